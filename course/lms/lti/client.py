"""Calls to a platform's LTI Advantage services, as the tool: OAuth2 client credentials with a
signed JWT (RFC 7523, as LTI 1.3 prescribes), then Names and Role Provisioning (the members of
a context) and Assignment and Grade Services (line items, scores, results).

One ``ServiceClient`` per platform registration. Its access token asks for every scope the tool
uses at once and is cached until shortly before it expires; ``clock`` (seconds since the epoch)
is the one time source, for the assertion's ``iat``/``exp`` and the cache alike.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
import requests

if TYPE_CHECKING:
    from ...lti_platforms import PlatformRegistration
    from .keys import ToolKey

__all__ = ["SCOPES", "ServiceClient", "ServiceError"]

NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
LINEITEM_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
RESULT_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPES = (NRPS_SCOPE, LINEITEM_SCOPE, RESULT_SCOPE, SCORE_SCOPE)

MEMBERSHIPS = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
LINEITEM = "application/vnd.ims.lis.v2.lineitem+json"
LINEITEMS = "application/vnd.ims.lis.v2.lineitemcontainer+json"
SCORE = "application/vnd.ims.lis.v1.score+json"
RESULTS = "application/vnd.ims.lis.v2.resultcontainer+json"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME_S = 300
EXPIRY_MARGIN_S = 30  # a token this close to its end is not used again
TIMEOUT_S = 30
DEFAULT_TOKEN_LIFETIME_S = 3600  # RFC 6749: expires_in is optional
MAX_PAGES = 1000  # a Link: next that never ends is the platform's bug, not a reason to hang


class ServiceError(Exception):
    """A service call the platform refused or failed; ``status`` is its HTTP status (0: none)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


@dataclass
class _Token:
    value: str
    expires: float


def with_path_suffix(url: str, suffix: str) -> str:
    """``url`` with ``suffix`` added to its path, its query kept (Moodle's line item URLs carry
    ``?type_id=``): the scores and results URLs of a line item."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + suffix))


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = "&".join(filter(None, (parts.query, urlencode(params))))
    return urlunsplit(parts._replace(query=query))


def _refusal(reply: requests.Response) -> str:
    """Why the platform refused, to print: OAuth2's ``error`` and ``error_description``
    (RFC 6749) where it sends them, else the start of its answer."""
    try:
        body = reply.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        description = body.get("error_description")
        return f": {body['error']}" + (f" ({description})" if description else "")
    text = reply.text.strip().replace("\n", " ")[:200]
    return f": {text}" if text else ""


class ServiceClient:
    def __init__(self, platform: PlatformRegistration, key: ToolKey, *,
                 clock: Callable[[], float] = time.time, session: requests.Session | None = None):
        self.platform, self.key, self.clock = platform, key, clock
        self.session = session or requests.Session()
        self._token: _Token | None = None
        self._private_key = key.private_key()

    def assertion(self) -> str:
        """The signed JWT that authenticates the tool at the token URL."""
        now = int(self.clock())
        client_id = self.platform.client_id
        claims = {"iss": client_id, "sub": client_id, "aud": self.platform.auth_token_url,
                  "iat": now, "exp": now + ASSERTION_LIFETIME_S, "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self._private_key, algorithm="RS256",
                          headers={"kid": self.key.kid})

    def token(self) -> str:
        if self._token is not None and self.clock() < self._token.expires - EXPIRY_MARGIN_S:
            return self._token.value
        form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
                "client_assertion": self.assertion(), "scope": " ".join(SCOPES)}
        reply = self._send("POST", self.platform.auth_token_url, data=form, auth=False)
        body = self._json(reply)  # a token URL answering HTML is a ServiceError, not a crash
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise ServiceError(f"{self.platform.auth_token_url} answered no access_token")
        lifetime = body.get("expires_in")
        if lifetime is None:
            lifetime = DEFAULT_TOKEN_LIFETIME_S
        if isinstance(lifetime, str) and lifetime.strip().isdigit():
            lifetime = int(lifetime)  # some platforms send it quoted
        if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float)) or lifetime <= 0:
            raise ServiceError(f"{self.platform.auth_token_url} answered expires_in "
                               f"{lifetime!r}, not a number of seconds")
        self._token = _Token(body["access_token"], self.clock() + float(lifetime))
        return self._token.value

    def _send(self, method: str, url: str, *, auth: bool = True, accept: str | None = None,
              **kwargs) -> requests.Response:
        headers = kwargs.pop("headers", {})
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        if accept:
            headers["Accept"] = accept
        try:
            reply = self.session.request(method, url, headers=headers, timeout=TIMEOUT_S,
                                         **kwargs)
        except requests.RequestException as exc:
            raise ServiceError(f"{method} {url}: {exc}") from exc
        if reply.status_code >= 400:
            raise ServiceError(f"{method} {url}: HTTP {reply.status_code}"
                               + _refusal(reply), reply.status_code)
        return reply

    def _json(self, reply: requests.Response) -> object:
        try:
            return reply.json()
        except ValueError:
            raise ServiceError(f"{reply.request.method} {reply.url}: not JSON") from None

    def _pages(self, url: str, accept: str, what: str,
               take: Callable[[object], list | None]) -> list[dict]:
        """Every entry of a paged container, following ``Link: <...>; rel="next"``; ``take``
        picks a page's list out of its body (None: the reply is not that container)."""
        entries, pages = [], 0
        while url and pages < MAX_PAGES:
            reply = self._send("GET", url, accept=accept)
            page = take(self._json(reply))
            if not isinstance(page, list):
                raise ServiceError(f"GET {url}: no {what} list in the reply")
            entries += [entry for entry in page if isinstance(entry, dict)]
            url = reply.links.get("next", {}).get("url")
            pages += 1
        return entries

    # Names and Role Provisioning
    def members(self, memberships_url: str) -> list[dict]:
        """Every member of the context, following ``Link: <...>; rel="next"`` pages."""
        return self._pages(memberships_url, MEMBERSHIPS, "members",
                           lambda body: body.get("members") if isinstance(body, dict) else None)

    # Assignment and Grade Services
    def line_items(self, lineitems_url: str, resource_id: str) -> list[dict]:
        """The line items of ``resource_id`` (every page), each with its ``id``."""
        found = self._pages(with_query(lineitems_url, resource_id=resource_id), LINEITEMS,
                            "line items", lambda body: body if isinstance(body, list) else None)
        # a platform that ignores the filter lists them all: keep only ours
        ours = [item for item in found if item.get("resourceId") == resource_id]
        if any(not isinstance(item.get("id"), str) or not item["id"] for item in ours):
            raise ServiceError(f"GET {lineitems_url}: a line item of {resource_id} has no id")
        return ours

    def create_line_item(self, lineitems_url: str, item: dict) -> dict:
        reply = self._send("POST", lineitems_url, json=item, accept=LINEITEM,
                           headers={"Content-Type": LINEITEM})
        body = self._json(reply)
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            raise ServiceError(f"POST {lineitems_url}: the new line item has no id")
        return body

    def post_score(self, line_item_url: str, score: dict) -> None:
        self._send("POST", with_path_suffix(line_item_url, "/scores"), json=score,
                   headers={"Content-Type": SCORE})

    def results(self, line_item_url: str) -> list[dict]:
        """Every result of the line item (every page)."""
        return self._pages(with_path_suffix(line_item_url, "/results"), RESULTS, "results",
                           lambda body: body if isinstance(body, list) else None)
