"""The services side of the tests' LTI 1.3 platform (``tests/lti_platform.py``): what Moodle or
Canvas answer to a tool's service calls.

- ``POST /token``: OAuth2 client credentials with a signed JWT (RFC 7523): the assertion is
  verified against the tool's JWKS URL from its registration (``iss`` = ``sub`` = client id,
  ``aud`` = this URL, ``exp``, a ``jti`` never seen before); the scopes asked for and known are
  granted to a bearer token.
- ``GET /nrps/<context>/memberships``: Names and Role Provisioning, ``page_size`` members a page
  with ``Link: <...>; rel="next"``.
- ``/ags/<context>/lineitems`` (GET with ``resource_id``, POST), ``.../lineitems/<id>`` (GET),
  ``.../<id>/scores`` (POST ``application/vnd.ims.lis.v1.score+json``), ``.../<id>/results``.

Every service call checks the bearer token and its scope, as a real LMS does; a score is taken
only for a member of the line item's context. ``platform.state``: ``tokens``, ``jtis``,
``lineitems`` {context: {id: item}}, ``scores`` {(context, item id): {user id: [score, ...]}},
``fail_users`` (user ids whose scores are answered with 500, the failure a test asks for),
``page_size``, ``token_lifetime`` (seconds), ``issued`` (a client id per token),
``requests`` (every service call, for the tests to count). Misbehaviour a test asks for:
``token_html`` (the token URL answers this HTML page, as a misconfigured proxy or login page
does), ``lineitems_page_size`` (line items and results paged, ``Link: rel="next"``),
``lineitems_rendezvous`` (a ``threading.Barrier``: a line item listing waits there, up to
2 s, for another listing, so two pushes at once both list before either creates; once it
broke, listings pass at once), ``lineitems_without_id`` (listings leave out each line item's
``id``), ``lineitems_unfiltered`` (the ``resource_id`` filter ignored, as some platforms do).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from urllib.parse import urlencode

import jwt
import requests
from jwt.algorithms import RSAAlgorithm
from lti_platform import LtiPlatform
from tornado import web

__all__ = ["SERVICE_HANDLERS", "lineitems_url", "memberships_url", "results_of", "token_url"]

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
LINEITEM_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
RESULT_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
KNOWN_SCOPES = {NRPS, LINEITEM, LINEITEM_READ, RESULT_READ, SCORE}
TOKEN_LIFETIME_S = 3600
ACTIVITY = {"Initialized", "Started", "InProgress", "Submitted", "Completed"}
GRADING = {"FullyGraded", "Pending", "PendingManual", "Failed", "NotReady"}


def token_url(platform: LtiPlatform) -> str:
    return f"{platform.url}/token"


def memberships_url(platform: LtiPlatform, context_id: str) -> str:
    return f"{platform.url}/nrps/{context_id}/memberships"


def lineitems_url(platform: LtiPlatform, context_id: str) -> str:
    return f"{platform.url}/ags/{context_id}/lineitems"


def results_of(platform: LtiPlatform, context_id: str, resource_id: str) -> dict[str, dict]:
    """The latest score the platform holds per user id for the line item of ``resource_id``."""
    items = platform.state.get("lineitems", {}).get(context_id, {})
    item = next((i for i in items.values() if i.get("resourceId") == resource_id), None)
    if item is None:
        return {}
    scores = platform.state.get("scores", {}).get((context_id, item["id"].rsplit("/", 1)[1]), {})
    return {user: history[-1] for user, history in scores.items()}


class _Base(web.RequestHandler):
    @property
    def platform(self) -> LtiPlatform:
        return self.application.settings["platform"]

    def state(self, key: str, default):
        return self.platform.state.setdefault(key, default)

    def refuse(self, status: int, error: str, description: str = "") -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish({"error": error, "error_description": description})

    def check_bearer(self, scope: str | tuple[str, ...]) -> bool:
        """The bearer token is one this platform issued, not expired, with ``scope`` (one of)."""
        self.state("requests", []).append((self.request.method, self.request.path))
        header = self.request.headers.get("Authorization", "")
        grant = self.state("tokens", {}).get(header.removeprefix("Bearer ").strip()) \
            if header.startswith("Bearer ") else None
        if grant is None or grant["expires"] <= self.application.settings["platform"].clock():
            self.refuse(401, "invalid_token")
            return False
        wanted = (scope,) if isinstance(scope, str) else scope
        if not set(wanted) & set(grant["scopes"]):
            self.refuse(403, "insufficient_scope", f"needs {' or '.join(wanted)}")
            return False
        return True

    def context_or_404(self, context_id: str):
        context = self.platform.contexts.get(context_id)
        if context is None:
            self.refuse(404, "not_found", f"no context {context_id}")
        return context

    def paged(self, entries: list, url: str, **query) -> list:
        """One page of ``entries`` (``lineitems_page_size`` a page, all if unset), with a
        ``Link: <url?...&page=n+1>; rel="next"`` while more follow."""
        size = self.platform.state.get("lineitems_page_size")
        if not size:
            return entries
        page = int(self.get_query_argument("page", "0"))
        if (page + 1) * size < len(entries):
            self.set_header("Link", f'<{url}?{urlencode({**query, "page": page + 1})}>; '
                            'rel="next"')
        return entries[page * size:(page + 1) * size]

    def body_json(self):
        try:
            return json.loads(self.request.body or b"null")
        except ValueError:
            return None


class TokenHandler(_Base):
    def post(self):
        platform = self.platform
        if platform.state.get("token_html"):
            self.set_header("Content-Type", "text/html")
            return self.finish(platform.state["token_html"])
        if self.get_body_argument("grant_type", "") != "client_credentials":
            return self.refuse(400, "unsupported_grant_type")
        if self.get_body_argument("client_assertion_type", "") != JWT_BEARER:
            return self.refuse(400, "invalid_request", "client_assertion_type")
        assertion = self.get_body_argument("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            claimed = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            return self.refuse(400, "invalid_request", "not a JWT")
        tool = platform.tools.get(str(claimed.get("iss")))
        if tool is None:
            return self.refuse(401, "invalid_client", "unknown client")
        try:  # the tool's public keys, from the JWKS URL it registered
            keys = requests.get(tool.jwks_url, timeout=10).json()["keys"]
        except (requests.RequestException, ValueError, KeyError, TypeError):
            return self.refuse(401, "invalid_client", "the tool's JWKS could not be read")
        jwk = next((k for k in keys if k.get("kid") == header.get("kid")), None)
        if jwk is None:
            return self.refuse(401, "invalid_client", "no key of that kid in the tool's JWKS")
        try:
            claims = jwt.decode(assertion, RSAAlgorithm.from_jwk(json.dumps(jwk)),
                                algorithms=["RS256"], audience=token_url(platform),
                                issuer=tool.client_id, leeway=5,  # clocks drift a little
                                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]})
        except jwt.PyJWTError as exc:
            return self.refuse(401, "invalid_client", str(exc))
        if claims["sub"] != tool.client_id:
            return self.refuse(401, "invalid_client", "sub is not the client id")
        jtis = self.state("jtis", set())
        if claims["jti"] in jtis:
            return self.refuse(401, "invalid_client", "jti used before")
        jtis.add(claims["jti"])
        granted = sorted(set(self.get_body_argument("scope", "").split()) & KNOWN_SCOPES)
        if not granted:
            return self.refuse(400, "invalid_scope")
        token = secrets.token_urlsafe(24)
        lifetime = platform.state.get("token_lifetime", TOKEN_LIFETIME_S)  # as sent
        valid_for = lifetime if isinstance(lifetime, int | float) else TOKEN_LIFETIME_S
        self.state("tokens", {})[token] = {"client_id": tool.client_id, "scopes": granted,
                                           "expires": platform.clock() + valid_for}
        self.state("issued", []).append(tool.client_id)
        self.finish({"access_token": token, "token_type": "Bearer", "expires_in": lifetime,
                     "scope": " ".join(granted)})


def _member_json(member) -> dict:
    given, _, family = member.name.partition(" ")
    body = {"status": "Active", "user_id": member.user_id, "name": member.name,
            "given_name": given, "family_name": family, "email": member.email,
            "roles": list(member.roles)}
    if member.sis_id:
        body["lis_person_sourcedid"] = member.sis_id
    return body


class MembershipsHandler(_Base):
    def get(self, context_id):
        if not self.check_bearer(NRPS):
            return
        context = self.context_or_404(context_id)
        if context is None:
            return
        size = self.platform.state.get("page_size", 50)
        page = int(self.get_query_argument("page", "0"))
        members = context.members[page * size:(page + 1) * size]
        if (page + 1) * size < len(context.members):
            self.set_header("Link", f'<{memberships_url(self.platform, context_id)}?page='
                            f'{page + 1}>; rel="next"')
        self.set_header("Content-Type",
                        "application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
        self.finish({"id": self.request.full_url(),
                     "context": {"id": context.context_id, "title": context.title},
                     "members": [_member_json(m) for m in members]})


class LineItemsHandler(_Base):
    def items(self, context_id) -> dict:
        return self.state("lineitems", {}).setdefault(context_id, {})

    async def get(self, context_id):
        if not self.check_bearer((LINEITEM, LINEITEM_READ)) or not self.context_or_404(context_id):
            return
        rendezvous = self.platform.state.get("lineitems_rendezvous")
        if rendezvous is not None and not rendezvous.broken:
            try:  # off the event loop: the other listing must be served meanwhile
                await asyncio.get_running_loop().run_in_executor(None, rendezvous.wait, 2)
            except threading.BrokenBarrierError:
                pass  # nobody came (pushes one at a time): go on
        wanted = self.get_query_argument("resource_id", None)
        if self.platform.state.get("lineitems_unfiltered"):
            wanted = None  # as a platform that ignores the filter: all of them
        found = [i for i in self.items(context_id).values()
                 if wanted is None or i.get("resourceId") == wanted]
        found = self.paged(found, lineitems_url(self.platform, context_id),
                           **({"resource_id": wanted} if wanted is not None else {}))
        if self.platform.state.get("lineitems_without_id"):
            found = [{k: v for k, v in item.items() if k != "id"} for item in found]
        self.set_header("Content-Type", "application/vnd.ims.lis.v2.lineitemcontainer+json")
        self.finish(json.dumps(found))

    def post(self, context_id):
        if not self.check_bearer(LINEITEM) or not self.context_or_404(context_id):
            return
        item = self.body_json()
        if (not isinstance(item, dict) or not str(item.get("label", "")).strip()
                or not isinstance(item.get("scoreMaximum"), (int, float))
                or item["scoreMaximum"] <= 0):
            return self.refuse(400, "invalid_request", "a line item needs label and "
                               "scoreMaximum > 0")
        number = str(sum(len(v) for v in self.state("lineitems", {}).values()) + 1)
        item["id"] = f"{lineitems_url(self.platform, context_id)}/{number}"
        self.items(context_id)[number] = item
        self.set_status(201)
        self.set_header("Content-Type", "application/vnd.ims.lis.v2.lineitem+json")
        self.finish(item)


class LineItemHandler(_Base):
    def get(self, context_id, number):
        if not self.check_bearer((LINEITEM, LINEITEM_READ)) or not self.context_or_404(context_id):
            return
        item = self.state("lineitems", {}).get(context_id, {}).get(number)
        if item is None:
            return self.refuse(404, "not_found")
        self.finish(item)


class ScoresHandler(_Base):
    def post(self, context_id, number):
        if not self.check_bearer(SCORE):
            return
        context = self.context_or_404(context_id)
        if context is None:
            return
        if self.state("lineitems", {}).get(context_id, {}).get(number) is None:
            return self.refuse(404, "not_found", "no such line item")
        if self.request.headers.get("Content-Type", "").split(";")[0] != \
                "application/vnd.ims.lis.v1.score+json":
            return self.refuse(415, "unsupported_media_type")
        score = self.body_json()
        if not isinstance(score, dict):
            return self.refuse(400, "invalid_request", "not a JSON object")
        user = score.get("userId")
        if user not in {m.user_id for m in context.members}:
            return self.refuse(400, "invalid_request", f"{user!r} is not in this context")
        if user in self.platform.state.get("fail_users", set()):
            return self.refuse(500, "server_error", "the platform failed (as the test asked)")
        problems = [name for name, ok in (
            ("activityProgress", score.get("activityProgress") in ACTIVITY),
            ("gradingProgress", score.get("gradingProgress") in GRADING),
            ("timestamp", isinstance(score.get("timestamp"), str)),
            ("scoreMaximum", "scoreGiven" not in score
             or isinstance(score.get("scoreMaximum"), (int, float))),
            ("scoreGiven", "scoreGiven" not in score
             or (isinstance(score["scoreGiven"], (int, float)) and score["scoreGiven"] >= 0)),
        ) if not ok]
        if problems:
            return self.refuse(400, "invalid_request", ", ".join(problems))
        history = self.state("scores", {}).setdefault((context_id, number), {}) \
            .setdefault(user, [])
        if history and score["timestamp"] < history[-1]["timestamp"]:
            return self.refuse(409, "conflict", "older than the score held")
        history.append(score)
        self.set_status(204)
        self.finish()


class ResultsHandler(_Base):
    def get(self, context_id, number):
        if not self.check_bearer(RESULT_READ) or not self.context_or_404(context_id):
            return
        item_url = f"{lineitems_url(self.platform, context_id)}/{number}"
        results = []
        for user, history in self.state("scores", {}).get((context_id, number), {}).items():
            last = history[-1]
            result = {"id": f"{item_url}/results/{user}", "scoreOf": item_url, "userId": user}
            if "scoreGiven" in last:
                result |= {"resultScore": last["scoreGiven"],
                           "resultMaximum": last["scoreMaximum"]}
            if last.get("comment"):
                result["comment"] = last["comment"]
            results.append(result)
        results = self.paged(results, f"{item_url}/results")
        self.set_header("Content-Type", "application/vnd.ims.lis.v2.resultcontainer+json")
        self.finish(json.dumps(results))


SERVICE_HANDLERS = [
    (r"/token", TokenHandler),
    (r"/nrps/([^/]+)/memberships", MembershipsHandler),
    (r"/ags/([^/]+)/lineitems", LineItemsHandler),
    (r"/ags/([^/]+)/lineitems/([0-9]+)", LineItemHandler),
    (r"/ags/([^/]+)/lineitems/([0-9]+)/scores", ScoresHandler),
    (r"/ags/([^/]+)/lineitems/([0-9]+)/results", ResultsHandler),
]
