"""The authenticator, chosen by ``c.CourseHub.authenticator``.

simple
    JupyterHub's SharedPasswordAuthenticator: everyone in the roster logs in with one password
    (``c.CourseHub.simple_password``). Anyone who knows it can log in as anyone: local use only.
generic-oauth
    oauthenticator's GenericOAuthenticator (``pip install oauthenticator``), for a university's
    OpenID Connect / OAuth2 login. Set after ``apply(c)``::

        c.GenericOAuthenticator.client_id = "..."
        c.GenericOAuthenticator.client_secret = "..."
        c.GenericOAuthenticator.oauth_callback_url = "https://hub.example.org/hub/oauth_callback"
        c.GenericOAuthenticator.authorize_url = "https://idp.example.org/authorize"
        c.GenericOAuthenticator.token_url = "https://idp.example.org/token"
        c.GenericOAuthenticator.userdata_url = "https://idp.example.org/userinfo"
        c.GenericOAuthenticator.username_claim = "preferred_username"  # = the roster's ids
        c.GenericOAuthenticator.scope = ["openid", "profile", "email"]
lti13
    ltiauthenticator's LTI13Authenticator (``pip install jupyterhub-ltiauthenticator``), to
    launch from the LMS (Moodle, Canvas, ...), configured from the course files' ``lti:
    platforms:`` (``hub_config.lti_login``): nothing to set after ``apply(c)``. A launch maps
    its context to the course and its ``lis_person_sourcedid`` (else email) to the roster's
    ``sis_id`` (else email), ``hub_config.lti_launch``; docs/lti.md says how to register the
    tool in Moodle and Canvas.

In every case only the roster's people may log in, as the course files say at each login:
the chosen class comes with ``RosterAuthenticator`` mixed in (``RosterSharedPasswordAuthenticator``,
``RosterGenericOAuthenticator``, ``RosterLTI13Authenticator``), whose ``check_allowed`` reads the
course files as they are now (``course.fresh_course``), so a student added mid-term logs in at
once and one dropped is refused, with no hub restart. A dropped user's hub session lapses at its
next refresh (``refresh_user``, every ``auth_refresh_age`` and before every spawn), and the
``roster-sync`` service stops their server. ``allowed_users`` (set by ``apply``) only seeds the
hub's user list when it starts. User names must be the roster's ids.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from pathlib import Path

from jupyterhub.auth import Authenticator
from jupyterhub.utils import maybe_future
from traitlets import List, Unicode
from traitlets.config import Config

from course.coursefile import Course
from course.fresh_course import FreshCourse

from .roles import staff_ids, student_ids

__all__ = ["AUTHENTICATORS", "ROSTER_CLASSES", "RosterAuthenticator", "configure_authenticator",
           "roster_following"]

# CourseHub.authenticator -> JupyterHub's entry-point name of the class
AUTHENTICATORS = {"simple": "shared-password", "generic-oauth": "generic-oauth",
                  "lti13": "hub_config.lti_login.CourseLTI13Authenticator"}
# CourseHub.authenticator -> the class the hub runs: that one, following the rosters
ROSTER_CLASSES = {"simple": "RosterSharedPasswordAuthenticator",
                  "generic-oauth": "RosterGenericOAuthenticator",
                  "lti13": "RosterLTI13Authenticator"}


class RosterAuthenticator(Authenticator):
    """Mixed in before a provider's authenticator: who may log in is the course files' rosters
    (every course's students, instructors and graders) as they are at that moment, plus
    ``admin_users``. A course file that does not load (an edit half done) counts as it last
    loaded, so an unfinished edit locks nobody out and lets nobody new in."""

    course_files = List(Unicode(), help="the course files whose rosters may log in (set by "
                        "hub_config.apply)").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._fresh = [FreshCourse(path) for path in self.course_files]
        self._last: dict[Path, Course] = {}

    def courses_now(self) -> list[Course]:
        """The courses as their files are now (one that does not load: as it last loaded)."""
        courses = []
        for fresh in self._fresh:
            course = fresh.course()
            if course is not None:
                self._last[fresh.path] = course
            elif fresh.path in self._last:
                self.log.warning("%s does not load (%s): its roster as last loaded counts",
                                 fresh.path, fresh.broken)
            if fresh.path in self._last:
                courses.append(self._last[fresh.path])
        return courses

    def roster_now(self) -> set[str]:
        return {person for course in self.courses_now()
                for person in (*student_ids(course), *staff_ids(course))}

    def check_allowed(self, username, authentication=None):
        if username in self.roster_now() or username in self.admin_users:
            return True
        self.log.warning("%s is on no course's roster: not allowed to log in", username)
        return False

    async def refresh_user(self, user, handler=None):
        if not self.check_allowed(user.name):
            # JupyterHub 6.1's refresh_auth reads handler._token_authenticated, which only a
            # token-authenticated request sets: a browser session's refusal would be a 500
            if handler is not None and not hasattr(handler, "_token_authenticated"):
                handler._token_authenticated = False
            return False  # a browser session must log in again, which the roster refuses
        return await maybe_future(super().refresh_user(user, handler))


def _provider_class(name: str) -> type[Authenticator]:
    """The provider's class from its AUTHENTICATORS entry: an entry point of JupyterHub's
    group, or a dotted path (imported here: oauthenticator and ltiauthenticator only where
    used)."""
    spec = AUTHENTICATORS[name]
    if "." in spec:
        module, _, attribute = spec.rpartition(".")
        return getattr(importlib.import_module(module), attribute)
    (point,) = entry_points(group="jupyterhub.authenticators", name=spec)
    return point.load()


def roster_following(name: str) -> type[Authenticator]:
    """The class of CourseHub.authenticator ``name`` with ``RosterAuthenticator`` mixed in."""
    provider = _provider_class(name)
    return type(ROSTER_CLASSES[name], (RosterAuthenticator, provider),
                {"__module__": __name__,
                 "__doc__": f"{provider.__name__}, allowing the course files' rosters"})


def __getattr__(attribute: str):
    """``hub_config.authenticators.Roster...Authenticator``, built when the hub imports it."""
    for name, class_name in ROSTER_CLASSES.items():
        if attribute == class_name:
            cls = globals()[class_name] = roster_following(name)
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {attribute!r}")


def configure_authenticator(c: Config, hub) -> None:
    if not hub.authenticator:  # fail closed: no login anyone gets without choosing it
        raise ValueError("c.CourseHub.authenticator: choose how people log in "
                         "(generic-oauth | lti13 | simple, the shared password for a local "
                         "trial): there is no default")
    c.JupyterHub.authenticator_class = f"{__name__}.{ROSTER_CLASSES[hub.authenticator]}"
    c.RosterAuthenticator.course_files = [str(path) for _, path in hub.courses()]
    # a dropped user's browser session cannot start a server on its last login
    c.Authenticator.refresh_pre_spawn = True
    if hub.authenticator == "simple":
        if len(hub.simple_password) < 8:
            raise ValueError("c.CourseHub.simple_password: at least 8 characters, please")
        c.SharedPasswordAuthenticator.user_password = hub.simple_password
    if hub.authenticator == "lti13" and not any(
            course.lti.platforms for course, _ in hub.courses()):
        raise ValueError("c.CourseHub.authenticator = lti13, but no course file lists an LMS "
                         "under lti: platforms: (docs/lti.md), so nobody could log in")
