"""The hub's LTI 1.3 login (``c.CourseHub.authenticator = "lti13"``): ltiauthenticator's
``LTI13Authenticator``, configured from the course files' ``lti: platforms:`` as they are at each
launch, so no ``c.LTI13Authenticator`` lines are needed and a platform added mid-term works at
once.

ltiauthenticator does the OpenID Connect work: the login initiation (state and nonce in
encrypted cookies), the signature against the platform's JWKS, issuer, audience and ``azp``,
expiry and age (``iat``), the required LTI claims, state and nonce against the cookies. It knows
one platform; here each step picks the registration instead:

- login initiation: the ``iss`` (and ``client_id``) the platform sends must be registered; the
  browser goes to that registration's ``auth_login_url``;
- the launch: the token's (unverified) ``iss`` and client id (its one ``aud``, or ``azp`` among
  several) choose ONE registration; the token is verified with that registration's key set,
  issuer and client id only (in a thread, the key set cached per URL, 5 s to answer), and that
  registration, not another looked up from the claims, maps it; a platform no course
  registers is refused before any key is fetched;
- added here: a nonce is spent once (ltiauthenticator clears its cookie but would accept the
  same request, cookies and all, again); the deployment id, the context and the person are
  ``hub_config.lti_launch``'s mapping, whose refusals are a 403 page the person understands;
- over https the state and nonce cookies are ``SameSite=None; Secure``: the platform posts the
  launch from its own site, and a browser keeps a ``SameSite=Lax`` cookie from such a post.

Meant to run with ``RosterAuthenticator`` mixed in before it (``RosterLTI13Authenticator`` in
``hub_config.authenticators``), which provides ``courses_now``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
from ltiauthenticator.lti13.auth import LTI13Authenticator
from ltiauthenticator.lti13.error import (
    InvalidAudienceError,
    LoginError,
    TokenError,
    ValidationError,
)
from ltiauthenticator.lti13.handlers import LTI13CallbackHandler, LTI13LoginInitHandler
from ltiauthenticator.lti13.validator import LTI13LaunchValidator
from ltiauthenticator.utils import convert_request_to_dict
from tornado.httputil import url_concat
from tornado.web import HTTPError

from course.coursefile import Course
from course.lti_platforms import PlatformRegistration

from .lti_launch import (
    CLAIM,
    NOT_CONNECTED,
    LaunchRefused,
    launch_registrations,
    launch_user,
    registrations,
    token_client,
)

__all__ = ["CourseLTI13Authenticator"]

INSTRUCTOR_ROLES = ("#Instructor", "#Administrator", "#TeachingAssistant")


def refusal(refused: LaunchRefused, status: int = 403) -> HTTPError:
    """An error whose page shows the person ``refused.message`` under the heading "Cannot log
    in" (JupyterHub's error page reads ``jupyterhub_message``); ``refused.reason``, which names
    claims and addresses, goes to the hub's log only."""
    error = HTTPError(status, "%s", refused.reason, reason="Cannot log in")
    error.jupyterhub_message = refused.message
    return error


class CourseLoginInitHandler(LTI13LoginInitHandler):
    def post(self):
        issuer = self.get_argument("iss", "")
        if not issuer:  # someone at the hub's own login page, or an old bookmark
            raise refusal(LaunchRefused(
                "Please open JupyterHub from your course's page in your LMS (Moodle, Canvas): "
                "its link logs you in.", "a login without iss: not from a platform"), 400)
        self._platform = self.authenticator.login_platform(
            issuer, self.get_argument("client_id", None))
        super().post()

    get = post

    def authorize_redirect(self, redirect_uri: str, login_hint: str, nonce: str,
                           client_id: str | None, state: str,
                           lti_message_hint: str | None = None) -> None:
        """ltiauthenticator's authentication request, sent to the registration's login URL."""
        platform: PlatformRegistration = self._platform
        args = {"response_type": "id_token", "scope": "openid", "response_mode": "form_post",
                "prompt": "none", "client_id": client_id or platform.client_id,
                "redirect_uri": redirect_uri, "login_hint": login_hint, "nonce": nonce,
                "state": state}
        if lti_message_hint is not None:
            args["lti_message_hint"] = lti_message_hint
        self.redirect(url_concat(platform.auth_login_url, args))

    def _set_oauth_cookie(self, key: str, value) -> None:
        cross_site = {}
        if self.authenticator.get_uri_scheme(self.request) == "https":
            cross_site = {"samesite": "None", "secure": True}
        self._set_cookie(key, value, expires_days=1, httponly=True, encrypted=True,
                         **cross_site)


JWKS_TIMEOUT_S = 5  # a platform's key set that does not answer by then fails the launch
JWKS_LIFESPAN_S = 300  # a key set is fetched again after this (an unknown kid: at once)
_key_sets: dict[str, jwt.PyJWKClient] = {}


def key_set(url: str) -> jwt.PyJWKClient:
    """One client per key set URL, caching what it fetched: a launch costs no fetch while the
    platform's keys are known, and a flood of launches no flood of fetches."""
    client = _key_sets.get(url)
    if client is None:
        client = _key_sets[url] = jwt.PyJWKClient(url, cache_keys=True,
                                                  lifespan=JWKS_LIFESPAN_S,
                                                  timeout=JWKS_TIMEOUT_S)
    return client


def verify_token(encoded: str, platform: PlatformRegistration, algorithms: list[str],
                 leeway: int) -> dict[str, Any]:
    """The token's claims, verified with ``platform``'s keys only, for its issuer and its client
    id only (blocking: the key set may be fetched; run it in a thread)."""
    try:
        key = key_set(platform.key_set_url).get_signing_key_from_jwt(encoded).key
        return jwt.decode(encoded, key, algorithms=algorithms, audience=platform.client_id,
                          issuer=platform.issuer, leeway=leeway)
    except jwt.InvalidAudienceError as error:
        raise InvalidAudienceError(str(error)) from error
    except jwt.PyJWTError as error:
        raise TokenError(str(error)) from error


class CourseCallbackHandler(LTI13CallbackHandler):
    lti_registered: list[tuple[Course, PlatformRegistration]] | None = None

    async def post(self):
        """ltiauthenticator's post, with the token checked off the event loop."""
        try:
            id_token = await self.decode_and_validate_launch_request()
        except InvalidAudienceError as error:
            raise HTTPError(401, str(error)) from None
        except ValidationError as error:
            raise HTTPError(400, str(error)) from None
        try:
            user = await self.login_user(id_token)
        except LoginError as error:
            raise HTTPError(400, str(error)) from None
        if user is None:
            raise HTTPError(403, "User missing or null")
        await self.redirect_to_next_url(user)

    async def decode_and_validate_launch_request(self) -> dict[str, Any]:
        """ltiauthenticator's checks in its order, against the one registration the token
        names (its issuer and client id, read unverified only to choose it); then the nonce
        is spent. The registration is kept for ``authenticate``, which maps the launch with
        it and looks nothing up again."""
        validator = LTI13LaunchValidator(parent=self.app)
        args = convert_request_to_dict(self.request.arguments)
        validator.validate_auth_response(args)
        self.check_state()
        authenticator: CourseLTI13Authenticator = self.authenticator
        try:
            unverified = jwt.decode(args["id_token"], options={"verify_signature": False})
        except jwt.PyJWTError as error:
            raise TokenError(str(error)) from error
        issuer, client_id = str(unverified.get("iss")), token_client(unverified)
        if client_id is None:
            raise InvalidAudienceError("the token names no one client id: one aud, or azp "
                                       "among several")
        try:
            registered = launch_registrations(authenticator.courses_now(), issuer, client_id)
        except LaunchRefused as refused:
            authenticator.log.warning("LTI launch refused: %s", refused.reason)
            raise refusal(refused) from None
        platform = registered[0][1]  # all agree on the keys (launch_registrations)
        id_token = await asyncio.to_thread(verify_token, args["id_token"], platform,
                                           authenticator.jwks_algorithms,
                                           validator.time_leeway)
        validator.validate_id_token(id_token)
        validator.validate_azp_claim(id_token, {platform.client_id})
        self.check_nonce(id_token)
        authenticator.spend_nonce(id_token)
        self.lti_registered = registered
        return id_token  # post answers a ValidationError with 400 (401)


class CourseLTI13Authenticator(LTI13Authenticator):
    """ltiauthenticator's LTI 1.3 login for the course files' registered platforms; the user
    name is the roster's id (``hub_config.lti_launch``)."""

    login_handler = CourseLoginInitHandler
    callback_handler = CourseCallbackHandler

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._spent: dict[str, float] = {}  # nonce -> when its token expires

    def courses_now(self) -> list[Course]:
        raise NotImplementedError("mix in hub_config.authenticators.RosterAuthenticator")

    def login_platform(self, issuer: str, client_id: str | None) -> PlatformRegistration:
        found = registrations(self.courses_now(), issuer, client_id or None)
        if not found:
            self.log.warning("LTI login from %s (client id %r): registered for no course",
                             issuer, client_id)
            raise refusal(LaunchRefused(NOT_CONNECTED, f"issuer {issuer!r} with client id "
                                        f"{client_id!r} is registered for no course"))
        if len({p.client_id for _, p in found}) > 1:
            raise HTTPError(400, f"{issuer} is registered with several client ids: the login "
                            "request must name its client_id")
        try:  # courses that list this client must agree on where its login goes
            return launch_registrations(self.courses_now(), issuer, found[0][1].client_id)[0][1]
        except LaunchRefused as refused:
            self.log.warning("LTI login refused: %s", refused.reason)
            raise refusal(refused) from None

    def spend_nonce(self, id_token: dict[str, Any], now: float | None = None) -> None:
        """Each nonce logs in once; a nonce is kept until its token expires (after that the
        token itself is refused)."""
        now = time.time() if now is None else now
        self._spent = {nonce: until for nonce, until in self._spent.items() if until >= now}
        nonce = id_token["nonce"]
        if nonce in self._spent:
            raise TokenError("this launch was used already (replayed nonce)")
        self._spent[nonce] = float(id_token["exp"])

    async def authenticate(self, handler, data: dict[str, Any] | None = None) -> dict:
        claims = data or {}
        registered = getattr(handler, "lti_registered", None)
        if registered is None:  # not a launch this module's handler verified: fail closed
            raise refusal(LaunchRefused(NOT_CONNECTED, "a login without a verified launch"))

        def is_admin(name: str) -> bool:
            found = handler.find_user(name) if hasattr(handler, "find_user") else None
            return name in self.admin_users or bool(found is not None and found.admin)

        try:
            user = launch_user(claims, self.courses_now(), registered, is_admin=is_admin)
        except LaunchRefused as refused:
            self.log.warning("LTI launch refused: %s", refused.reason)
            raise refusal(refused) from None
        roles = claims.get(CLAIM + "roles") or []
        if user.role == "student" and any(str(r).endswith(INSTRUCTOR_ROLES) for r in roles):
            self.log.warning("LTI launch of %s (%s): the platform says %s; the roster's role "
                             "(student) counts", user.name, user.course_id, roles)
        return {"name": user.name,
                "auth_state": {"lti": {"issuer": claims.get("iss"), "course": user.course_id,
                                       "context": claims[CLAIM + "context"]["id"]}}}
