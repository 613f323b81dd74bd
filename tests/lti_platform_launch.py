"""The launch side of the tests' LTI 1.3 platform (``tests/lti_platform.py``): what Moodle or
Canvas do when a person opens the tool from a course page.

- ``GET /launch?context=<id>&user=<user id>&client_id=<tool>``: the link in the LMS course. An
  auto-submitting form POSTs the third-party initiated login to the tool's login URL: ``iss``,
  ``login_hint`` (the user id), ``target_link_uri``, ``lti_message_hint`` (the context id),
  ``client_id``, ``lti_deployment_id``.
- ``GET|POST /auth``: the OIDC authorization endpoint the tool sends the browser to. It checks
  the request (``response_type=id_token``, ``scope=openid``, ``response_mode=form_post``,
  ``prompt=none``, a nonce), that the client is registered, that ``redirect_uri`` is one of its
  registered redirect URIs, and that the login hint is a member of the hinted context; then an
  auto-submitting form POSTs the signed ``id_token`` and the ``state`` to ``redirect_uri``.
  ``platform.state["launches"]`` records each id_token's claims.

The id_token carries the LTI 1.3 claims of a resource link launch (``launch_claims``), with the
Names and Role Provisioning and Assignment and Grade Services endpoints of the services side.
For the attacks, ``begin_launch`` runs the tool's login initiation with ``requests`` and returns
the authentication request the tool made (its nonce and state), so a test can answer it with a
token of its own making; ``platform_answer`` is the platform's own answer to it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from lti_platform import Context, LtiPlatform, Member, ToolRegistration
from lti_platform_services import (
    LINEITEM,
    LINEITEM_READ,
    RESULT_READ,
    SCORE,
    lineitems_url,
    memberships_url,
)
from tornado import web

__all__ = ["CLAIM", "LAUNCH_HANDLERS", "AuthRequest", "authorize_url", "begin_launch",
           "form_fields", "launch_claims", "launch_link", "platform_answer", "post_form"]

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"


def authorize_url(platform: LtiPlatform) -> str:
    return f"{platform.url}/auth"


def launch_link(platform: LtiPlatform, context: Context, member: Member,
                tool: ToolRegistration) -> str:
    """The course page's link that starts a launch for ``member`` (a browser opens it)."""
    return f"{platform.url}/launch?" + urlencode(
        {"context": context.context_id, "user": member.user_id, "client_id": tool.client_id})


def login_initiation(platform: LtiPlatform, context: Context, member: Member,
                     tool: ToolRegistration) -> dict[str, str]:
    """The third-party initiated login's parameters, as the platform POSTs them to the tool."""
    return {"iss": platform.issuer, "login_hint": member.user_id,
            "target_link_uri": tool.launch_url, "lti_message_hint": context.context_id,
            "client_id": tool.client_id, "lti_deployment_id": tool.deployment_id}


def launch_claims(platform: LtiPlatform, context: Context, member: Member,
                  tool: ToolRegistration, *, nonce: str, resource_link: str = "hub") -> dict:
    """The claims of a resource link launch of ``member`` in ``context`` (``iss``, ``iat`` and
    ``exp`` are added by ``platform.sign``)."""
    claims = {
        "aud": tool.client_id, "azp": tool.client_id, "sub": member.user_id, "nonce": nonce,
        "name": member.name, "email": member.email,
        CLAIM + "message_type": "LtiResourceLinkRequest", CLAIM + "version": "1.3.0",
        CLAIM + "deployment_id": tool.deployment_id,
        CLAIM + "target_link_uri": tool.launch_url,
        CLAIM + "roles": list(member.roles),
        CLAIM + "context": {"id": context.context_id, "label": context.context_id,
                            "title": context.title, "type": [COURSE_OFFERING]},
        CLAIM + "resource_link": {"id": resource_link, "title": "JupyterHub"},
        CLAIM + "tool_platform": {"guid": platform.kid, "name": "the tests' LMS",
                                  "product_family_code": "lti-platform-tests"},
        NRPS_CLAIM: {"context_memberships_url": memberships_url(platform, context.context_id),
                     "service_versions": ["2.0"]},
        AGS_CLAIM: {"scope": [LINEITEM, LINEITEM_READ, RESULT_READ, SCORE],
                    "lineitems": lineitems_url(platform, context.context_id)},
    }
    if member.sis_id:
        claims[CLAIM + "lis"] = {"person_sourcedid": member.sis_id}
    return claims


def _auto_post(action: str, fields: dict[str, str]) -> str:
    inputs = "".join(f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                     for k, v in fields.items())
    return ("<!doctype html><html><head><title>Launching</title></head>"
            '<body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(action)}">{inputs}'
            "<noscript><button>Continue</button></noscript></form></body></html>")


class _PlatformHandler(web.RequestHandler):
    @property
    def platform(self) -> LtiPlatform:
        return self.application.settings["platform"]

    def member(self, context_id: str, user_id: str) -> tuple[Context, Member]:
        context = self.platform.contexts.get(context_id)
        member = next((m for m in context.members if m.user_id == user_id), None) \
            if context else None
        if member is None:
            raise web.HTTPError(403, f"{user_id} is no member of {context_id}")
        return context, member

    def tool(self, client_id: str) -> ToolRegistration:
        tool = self.platform.tools.get(client_id)
        if tool is None:
            raise web.HTTPError(400, f"unknown client_id {client_id!r}")
        return tool


class LaunchHandler(_PlatformHandler):
    def get(self):
        context, member = self.member(self.get_argument("context"), self.get_argument("user"))
        tool = self.tool(self.get_argument("client_id"))
        self.finish(_auto_post(tool.login_url,
                               login_initiation(self.platform, context, member, tool)))


REQUIRED = {"scope": "openid", "response_type": "id_token", "response_mode": "form_post",
            "prompt": "none"}  # what an OIDC authentication request of LTI 1.3 must say


class AuthorizeHandler(_PlatformHandler):
    def post(self):
        for name, value in REQUIRED.items():
            if self.get_argument(name, "") != value:
                raise web.HTTPError(400, f"{name} must be {value!r}")
        tool = self.tool(self.get_argument("client_id"))
        redirect_uri = self.get_argument("redirect_uri")
        if redirect_uri not in (tool.redirect_uris or (tool.launch_url,)):
            raise web.HTTPError(400, f"redirect_uri {redirect_uri!r} is not registered")
        nonce = self.get_argument("nonce")
        if not nonce:
            raise web.HTTPError(400, "a nonce is required")
        context, member = self.member(self.get_argument("lti_message_hint", ""),
                                      self.get_argument("login_hint"))
        claims = launch_claims(self.platform, context, member, tool, nonce=nonce)
        id_token = self.platform.sign(claims)
        self.platform.state.setdefault("launches", []).append(
            {**claims, "iss": self.platform.issuer})
        self.finish(_auto_post(redirect_uri, {"id_token": id_token,
                                              "state": self.get_argument("state")}))

    get = post


LAUNCH_HANDLERS = [(r"/launch", LaunchHandler), (r"/auth", AuthorizeHandler)]


class _Forms(HTMLParser):
    def __init__(self):
        super().__init__()
        self.action, self.fields = "", {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and not self.action:
            self.action = attrs.get("action") or ""
        elif tag == "input" and attrs.get("name"):
            self.fields[attrs["name"]] = attrs.get("value") or ""


def form_fields(page: str) -> tuple[str, dict[str, str]]:
    """The first form of an auto-submitting page: its action and fields."""
    forms = _Forms()
    forms.feed(page)
    return forms.action, forms.fields


@dataclass(frozen=True)
class AuthRequest:
    """The authentication request the tool sent the browser to the platform with."""
    url: str
    params: dict[str, str]

    @property
    def nonce(self) -> str:
        return self.params["nonce"]

    @property
    def state(self) -> str:
        return self.params["state"]

    @property
    def redirect_uri(self) -> str:
        return self.params["redirect_uri"]


def begin_launch(session: requests.Session, platform: LtiPlatform, context: Context,
                 member: Member, tool: ToolRegistration, **changes: str) -> AuthRequest:
    """The tool's login initiation, as the platform's form POSTs it (``changes`` replace
    parameters): the tool sets its state and nonce cookies in ``session`` and redirects to the
    platform's authorization endpoint. AssertionError if it does not redirect."""
    params = {**login_initiation(platform, context, member, tool), **changes}
    reply = session.post(tool.login_url, data=params, allow_redirects=False, timeout=30)
    assert reply.status_code == 302, (reply.status_code, reply.text[:500])
    location = reply.headers["Location"]
    return AuthRequest(location, dict(parse_qsl(urlsplit(location).query)))


def platform_answer(session: requests.Session, auth: AuthRequest) -> tuple[str, dict[str, str]]:
    """The platform's answer to the tool's authentication request: the form's action (the
    redirect URI) and its fields (``id_token``, ``state``)."""
    reply = session.get(auth.url, timeout=30)
    reply.raise_for_status()
    return form_fields(reply.text)


def post_form(session: requests.Session, action: str, fields: dict[str, str]
              ) -> requests.Response:
    """What the browser does with the auto-submitting form: POST it (no redirects followed)."""
    return session.post(action, data=fields, allow_redirects=False, timeout=30)
