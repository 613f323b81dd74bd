"""Who is asking the exchange: the hub's answer about a request's token, and the hub services
that act as graders.

Every request but ``health`` carries a JupyterHub token (``Authorization: token ...``). The
hub says whose it is (``HubAuth``, which caches the answer for ``cache_max_age`` seconds for
reads; state-changing requests reuse an answer for at most a second, ``exchange/token_cache.py``,
so a revoked token writes nothing a second later), and the token must be allowed to reach this
service
(``access:services!service=<name>``). A user's role comes from the roster of the course the
route names (``ServedCourse.roster_role``, ``exchange/courses.py``); a service's from
``staff_services`` alone: a grader of the courses named for it, nothing else.
"""

from __future__ import annotations

from jupyterhub.services.auth import HubAuth, check_scopes
from tornado import web

from course.roles import Role

from .token_cache import TokenCache

__all__ = ["EVERY_COURSE", "STAFF_SERVICES_ENV", "TokenCache", "hub_model",
           "parse_staff_services", "service_role"]

EVERY_COURSE = "*"  # a staff service of a one-course exchange (a bare name in the variable)
STAFF_SERVICES_ENV = "COURSE_EXCHANGE_STAFF_SERVICES"


def parse_staff_services(text: str) -> dict[str, str]:
    """``formgrader-a=a,formgrader-b=b``: each service grades the course it names; a bare name
    (``formgrader-a``) grades every course this exchange serves (meant for one course)."""
    services = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, course_id = item.partition("=")
        services[name.strip()] = course_id.strip() or EVERY_COURSE
    return services


def service_role(staff_services: dict[str, str], name: str, course_id: str) -> Role | None:
    """The role of the hub service ``name`` in ``course_id``: a grader where ``staff_services``
    names that course (or every course) for it, else none."""
    granted = staff_services.get(name)
    return Role("grader") if granted in (course_id, EVERY_COURSE) else None


async def hub_model(hub_auth: HubAuth, handler: web.RequestHandler, *,
                    cached: bool = False, writes: TokenCache | None = None) -> dict:
    """The hub's model of the request's token. ``cached``: a read may reuse the hub's answer
    for ``cache_max_age`` seconds; anything else asks the hub, or takes its answer from
    ``writes`` while that is younger than its bound (a second)."""
    token = hub_auth.get_token(handler, in_cookie=False)
    if not token:
        raise web.HTTPError(401, "no token: send 'Authorization: token <your JupyterHub "
                            "API token>' ($JUPYTERHUB_API_TOKEN in a user's server)")
    if cached:
        model = await hub_auth.user_for_token(token, use_cache=True, sync=False)
    else:
        model = writes.get(token) if writes is not None else None
        if model is None:
            asked_at = writes.asked() if writes is not None else 0.0
            model = await hub_auth.user_for_token(token, use_cache=False, sync=False)
            if writes is not None:
                writes.put(token, model, asked_at)
    if not model:
        raise web.HTTPError(401, "the hub does not know this token (expired or revoked?)")
    if model.get("kind", "user") not in ("user", "service"):
        raise web.HTTPError(403, f"{model.get('kind')} tokens cannot use the exchange")
    scopes = hub_auth.access_scopes
    if scopes and not check_scopes(scopes, set(model.get("scopes", []))):
        raise web.HTTPError(403, f"this token of {model['name']} lacks "
                            f"{' or '.join(sorted(scopes))}")
    return model
