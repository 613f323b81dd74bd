"""Who an LTI 1.3 launch is, on this hub: the verified ``id_token``'s claims mapped to a course
and to a person of that course's roster. ltiauthenticator checks the token (signature, issuer,
audience, expiry, nonce, state); this module decides what it means.

- The platform: the token's issuer and client id (its one ``aud``, or its ``azp`` among
  several) must be a registration in a course file's ``lti: platforms:``, and its deployment id
  one of that registration's ``deployment_ids``. The login verifies the token with that one
  registration's keys (``launch_registrations``) and hands it to ``launch_user``: a token
  verified with one registration's keys never counts as another's.
- The course: the token's context id must be one of the contexts that this very registration
  lists for a course. A platform registered for another course (or for none) cannot speak for
  this one, whatever its role claim says.
- The person: ``lis.person_sourcedid`` and ``email`` matched to the roster by
  ``course.roster_match`` (sis_id wins, a contradicting sis_id is someone else), as the roster
  pull and the grade push match them. The roster decides the person's role; the launch's role
  claim is never read for it.
- The name: a course file is its instructor's to edit, so a registration logs in only its own
  course's people: never a hub admin, nor a name on another course's roster unless that course
  registers the same platform and its roster agrees the launch is that person.

Every refusal is a ``LaunchRefused`` with a sentence for the person (the 403 page) and one for
the hub's log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from course.coursefile import Course, Person
from course.lti_platforms import PlatformRegistration
from course.roster_match import Identity, match_people

__all__ = ["CLAIM", "NOT_CONNECTED", "Launch", "LaunchRefused", "LaunchUser",
           "launch_registrations", "launch_user", "registrations", "token_client"]

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
ASK = "Please tell your instructor which LMS course you launched from."
NOT_CONNECTED = f"This LMS is not connected to this JupyterHub. {ASK}"


class LaunchRefused(Exception):
    """A verified launch that this hub does not let in: ``message`` for the person,
    ``reason`` for the hub's log."""

    def __init__(self, message: str, reason: str):
        super().__init__(reason)
        self.message, self.reason = message, reason


@dataclass(frozen=True)
class Launch:
    """The claims of a verified ``id_token`` that the mapping reads."""
    issuer: str
    client_id: str
    deployment_id: str
    context_id: str
    context_title: str
    sourcedid: str
    email: str

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Launch:
        return cls(issuer=_text(claims.get("iss")), client_id=token_client(claims) or "",
                   deployment_id=_text(claims.get(CLAIM + "deployment_id")),
                   context_id=_text(_dict(claims.get(CLAIM + "context")).get("id")),
                   context_title=_text(_dict(claims.get(CLAIM + "context")).get("title")),
                   sourcedid=_text(_dict(claims.get(CLAIM + "lis")).get("person_sourcedid")),
                   email=_text(claims.get("email")))


@dataclass(frozen=True)
class LaunchUser:
    name: str  # the roster's id: the hub's user name
    course_id: str
    role: str  # the roster's: student | instructor | grader


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def registrations(courses: list[Course], issuer: str,
                  client_id: str | None = None) -> list[tuple[Course, PlatformRegistration]]:
    """Every course's registration of ``issuer`` (and ``client_id``, when given)."""
    return [(course, platform) for course in courses for platform in course.lti.platforms
            if platform.issuer == issuer and client_id in (None, platform.client_id)]


def token_client(claims: dict[str, Any]) -> str | None:
    """The client id a token is for, read before it is verified so that only that one
    registration's keys verify it: its one ``aud`` (a string or a list of one), or, for a
    token of several audiences, its ``azp``, which must be one of them. An ``azp`` that is not
    that audience, or several audiences without one: None (refused)."""
    aud, azp = claims.get("aud"), claims.get("azp")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not audiences or not all(isinstance(a, str) and a for a in audiences):
        return None
    if len(audiences) == 1:
        return audiences[0] if azp in (None, audiences[0]) else None
    return azp if isinstance(azp, str) and azp in audiences else None


def launch_registrations(courses: list[Course], issuer: str,
                         client_id: str) -> list[tuple[Course, PlatformRegistration]]:
    """The registration a launch of ``issuer`` for ``client_id`` is checked against, in every
    course that lists it. Courses that list the same issuer and client id must agree on the
    platform's key set and login URLs: otherwise one course could verify another's launches
    with keys of its own choosing, and none is trusted (LaunchRefused)."""
    found = registrations(courses, issuer, client_id)
    if not found:
        raise LaunchRefused(NOT_CONNECTED, f"no course registers issuer {issuer!r} with "
                            f"client id {client_id!r}")
    urls = {(p.key_set_url, p.auth_login_url) for _, p in found}
    if len(urls) > 1:
        raise LaunchRefused(
            f"This LMS is registered on this JupyterHub twice, with different details, so it "
            f"cannot log anyone in. {ASK}",
            f"{issuer} client id {client_id!r}: the courses "
            f"{', '.join(c.id for c, _ in found)} register it with different key_set_url or "
            "auth_login_url; fix the course files so that they agree")
    return found


def _identity(person: Person) -> Identity:
    return Identity(person.id, person.sis_id, person.email)


def _roster(course: Course) -> list[tuple[str, Person]]:
    return [(role, person) for role, people in (("student", course.roster.students),
                                                ("instructor", course.roster.instructors),
                                                ("grader", course.roster.graders))
            for person in people]


def _roster_match(course: Course, launch: Launch) -> tuple[list[tuple[str, Person]], bool]:
    """The roster's people the launch names, with their roles (``course.roster_match``'s
    rule), and whether the match is ambiguous."""
    people = _roster(course)
    account = Identity("launch", launch.sourcedid, launch.email)
    matching = match_people([_identity(p) for _, p in people], [account])
    return [(r, p) for r, p in people if p.id in matching.pairs], bool(matching.ambiguous)


OTHER_COURSE = ("Your LMS account cannot log in to JupyterHub from this LMS course: your name "
                "on this hub is one that this course's LMS link may not use. Please show this "
                "page to your instructor.")


def _may_log_in(name: str, course_id: str, launch: Launch, courses: list[Course],
                is_admin: Callable[[str], bool]) -> None:
    """A course's registration speaks for that course's people only: it never logs in a hub
    admin, nor a name on another course's roster unless that course registers the same
    platform (issuer and client id) and its roster, too, says the launch is that person. A
    course file is its instructor's to edit, registrations and roster alike."""
    if is_admin(name):
        raise LaunchRefused(OTHER_COURSE, f"{launch.issuer}: the launch would log in {name!r} "
                            f"(course {course_id}), a hub admin: admins never log in by LTI")
    for other in courses:
        entry = next((p for _, p in _roster(other) if p.id == name), None)
        if other.id == course_id or entry is None:
            continue
        if not registrations([other], launch.issuer, launch.client_id):
            raise LaunchRefused(OTHER_COURSE, f"{launch.issuer}: the launch would log in "
                                f"{name!r} (course {course_id}), who is on course {other.id}'s "
                                "roster, which does not register this platform")
        same = match_people([_identity(entry)], [Identity("launch", launch.sourcedid,
                                                          launch.email)])
        if not same.pairs:
            raise LaunchRefused(OTHER_COURSE, f"{launch.issuer}: the launch would log in "
                                f"{name!r} (course {course_id}), but course {other.id}'s "
                                f"roster has another {name!r} (sis_id {launch.sourcedid!r} / "
                                f"email {launch.email!r} do not match it)")


def launch_user(claims: dict[str, Any], courses: list[Course],
                registered: list[tuple[Course, PlatformRegistration]] | None = None, *,
                is_admin: Callable[[str], bool] = lambda name: False) -> LaunchUser:
    """The roster's person a verified launch is, in the course its context is; LaunchRefused
    when the platform, deployment or context is not registered here, the person is not on
    that course's roster, or the name is not this registration's to log in (``_may_log_in``).
    ``registered``: the registration whose keys verified the token (``launch_registrations``),
    never looked up again from claims; ``is_admin``: whether a user name is a hub admin."""
    launch = Launch.from_claims(claims)
    platforms = registered if registered is not None else launch_registrations(
        courses, launch.issuer, launch.client_id)
    deployed = [(c, p) for c, p in platforms if launch.deployment_id in p.deployment_ids]
    if not deployed:
        raise LaunchRefused(f"This LMS's link to JupyterHub is not registered here. {ASK}",
                            f"{launch.issuer}: deployment id {launch.deployment_id!r} is not "
                            "registered")
    if not launch.context_id:
        raise LaunchRefused(f"Please open JupyterHub from your course's page in the LMS. {ASK}",
                            f"{launch.issuer}: the launch names no course (context claim)")
    matched = [course for course, platform in deployed if platform.context(launch.context_id)]
    if not matched:
        # the page names the context: the instructor pastes it into the course file
        named = f"{launch.context_title}, " if launch.context_title else ""
        raise LaunchRefused(f"This LMS course ({named}context id {launch.context_id}) is not "
                            "connected to any course on this JupyterHub. Please show this "
                            "page to your instructor.",
                            f"{launch.issuer}: context {launch.context_id!r} is registered for "
                            "no course (by this platform)")
    found, ambiguous = set(), False
    for course in matched:
        people, doubtful = _roster_match(course, launch)
        ambiguous = ambiguous or doubtful
        found |= {(course.id, role, person.id) for role, person in people}
    if ambiguous or len({name for _, _, name in found}) > 1:
        raise LaunchRefused(f"Your LMS account matches more than one person on this course's "
                            f"list. {ASK}",
                            f"{launch.issuer}: sis_id {launch.sourcedid!r} / email "
                            f"{launch.email!r} matches {sorted(found)} (or more than one "
                            "person of one roster)")
    if not found:
        titles = " / ".join(course.title for course in matched)
        raise LaunchRefused(
            f"You are not on the list of students of {titles} on this JupyterHub, so you "
            "cannot log in. If you have just joined the course, please ask your instructor "
            "to add you.",
            f"{launch.issuer}: context {launch.context_id!r} ({', '.join(c.id for c in matched)})"
            f": sis_id {launch.sourcedid!r} / email {launch.email!r} is on no roster")
    course_id, role, name = min(found)
    _may_log_in(name, course_id, launch, courses, is_admin)
    return LaunchUser(name=name, course_id=course_id, role=role)
