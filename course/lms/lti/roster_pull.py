"""``course roster pull-lti``: the members of the course's LMS contexts (Names and Role
Provisioning) merged into the course file's roster by ``course roster import``'s rules.

A member is matched to the roster's person by ``course.roster_match``, the rule the launch and
the grade push use: ``sis_id`` (the LMS's ``lis_person_sourcedid``) first, else email (without
case) unless the sis_ids contradict; a match that is not one to one is a conflict. A matched
person is updated with the LMS's non-empty names, email and sis_id. A member the roster lacks
gets an id (the email's local part, else the sis_id) that is a hub user name: it must be
nobody else's on the hub, so it is made unique against this roster and ``hub_names`` (the
hub's other courses and admins) and added; where those cannot be known (the command line), the
person is a conflict with the suggested id, for the instructor to confirm and add by hand. Roles: Learner -> student,
Instructor -> instructor, TeachingAssistant -> grader (a TA is an Instructor sub-role and wins
over it); a member with none of these roles, or not Active, is ignored and listed. A matched
person whose role in the course file differs from the LMS's is a conflict, as is an sis_id or
email two people would share; a conflict refuses the whole pull (nothing written), ``dry_run``
lists them. Nobody is removed: ``course roster drop`` does that, with its record.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...course_yaml import load_yaml_tree
from ...coursefile import parse_course
from ...errors import UserError
from ...roster import FIELDS, ROLE_OF, ROLES, RosterChange, write_people
from ...roster_match import Identity, match_people
from .client import ServiceClient, ServiceError
from .keys import signing_key

__all__ = ["LmsMember", "lms_role", "pull_roster", "read_members"]

LEARNER = "Learner"
INSTRUCTOR = "Instructor"
TEACHING_ASSISTANT = "TeachingAssistant"
_MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._@-]+")


def lms_role(roles: list[str] | tuple[str, ...]) -> str | None:
    """The roster role of LTI context roles (full URIs or their short names); None: none of
    ours (a content developer, a mentor; institution roles never count)."""
    names = set()
    for role in roles:
        if role.startswith((_MEMBERSHIP + "#", _MEMBERSHIP + "/Instructor#")):
            names.add(role.rsplit("#", 1)[1])
        elif "/" not in role and "#" not in role:
            names.add(role)
    if TEACHING_ASSISTANT in names:
        return "grader"
    if INSTRUCTOR in names:
        return "instructor"
    if LEARNER in names:
        return "student"
    return None


@dataclass(frozen=True)
class LmsMember:
    user_id: str
    where: str  # "moodle context 42", for the messages
    role: str | None
    active: bool
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    sis_id: str = ""

    @classmethod
    def from_nrps(cls, member: dict, where: str) -> LmsMember:
        def text(key: str) -> str:
            value = member.get(key)
            return value.strip() if isinstance(value, str) else ""

        roles = member.get("roles") if isinstance(member.get("roles"), list) else []
        first, last = text("given_name"), text("family_name")
        if not (first or last) and text("name"):
            first, _, last = text("name").partition(" ")
        return cls(str(member.get("user_id", "")), where,
                   lms_role([r for r in roles if isinstance(r, str)]),
                   member.get("status", "Active") == "Active", first, last,
                   text("email"), text("lis_person_sourcedid"))

    @property
    def fields(self) -> dict[str, str]:
        return {key: getattr(self, key) for key in FIELDS if getattr(self, key)}

    @property
    def label(self) -> str:
        name = " ".join(filter(None, (self.first_name, self.last_name)))
        return f"{name or self.email or self.user_id} ({self.where}, user {self.user_id})"


def read_members(course, course_file: Path, *, client_for=None) -> list[LmsMember]:
    """Every member of every registered context that has a memberships URL."""
    members = []
    for platform in course.lti.platforms:
        contexts = [c for c in platform.contexts if c.memberships_url]
        if not contexts:
            continue
        client = client_for(platform) if client_for else _client(platform, course_file)
        for context in contexts:
            where = f"{platform.label} context {context.id}"
            try:
                found = client.members(context.memberships_url)
            except ServiceError as exc:
                raise UserError(f"{where}: the roster could not be read: {exc}") from exc
            members += [LmsMember.from_nrps(m, where) for m in found]
    return members


def _client(platform, course_file: Path) -> ServiceClient:
    from ...lti_platforms import key_folder

    return ServiceClient(platform, signing_key(key_folder(course_file)))


def _new_id(member: LmsMember, taken: set[str]) -> str | None:
    base = member.email.split("@")[0] if member.email else member.sis_id
    base = _NOT_IN_ID.sub("-", base.casefold()).strip("-._@")
    if not base:
        return None
    candidate, number = base, 1
    while candidate.casefold() in taken:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


def _entry_identity(key: str, index: int, entry: dict) -> Identity:
    return Identity(f"{key}#{index}", str(entry.get("sis_id") or ""),
                    str(entry.get("email") or ""), str(entry.get("id")))


def _plan(tree: Any, members: list[LmsMember], course_file: Path,
          hub_names: Collection[str] | None = None):
    """What the pull does. ``hub_names``: every user name the hub knows besides this course's
    roster (the other courses' rosters, the admins), which a new person's id must not be; None
    when they cannot be known here: then a new person is a conflict with a suggested id."""
    roster = tree.get("roster") or {}
    people = {}  # identity key -> (list, index, entry)
    for key in ROLES.values():
        for index, entry in enumerate(roster.get(key) or []):
            if isinstance(entry, dict):
                people[f"{key}#{index}"] = (key, index, entry)
    taken = {str(entry.get("id")).casefold() for _, _, entry in people.values()}
    taken |= {name.casefold() for name in hub_names or ()}
    change, adds, updates, seen, candidates = RosterChange(), {}, [], set(), []
    for member in members:
        if not member.active or member.role is None:
            why = "not active" if not member.active else "no Learner, Instructor or TA role"
            change.ignored.append(f"{member.label}: {why}")
            continue
        match_key = member.sis_id or member.email.casefold()
        if not match_key:
            change.conflicts.append(f"{member.label}: neither an sis id nor an email, so no "
                                    "roster person can be matched to it")
            continue
        if match_key in seen:  # the same person in a second context or platform
            continue
        seen.add(match_key)
        candidates.append(member)
    # one rule with the launch and the grade push: course.roster_match
    matching = match_people(
        [_entry_identity(*person) for person in people.values()],
        [Identity(str(n), m.sis_id, m.email, m.label) for n, m in enumerate(candidates)])
    change.conflicts += [f"{line}: merged with none of them; make the sis_id or email tell "
                         "them apart" for line in matching.ambiguous]
    person_of = {account: person for person, account in matching.pairs.items()}
    for number, member in enumerate(candidates):
        if str(number) in matching.ambiguous_accounts:
            continue
        found = people.get(person_of.get(str(number), ""))
        if found is None:
            person_id = _new_id(member, taken)
            if person_id is None:
                change.conflicts.append(f"{member.label}: no roster id can be made from its "
                                        "email or sis id; add the person by hand")
                continue
            taken.add(person_id.casefold())
            if hub_names is None:
                fields = ", ".join(f"{k}: {v}" for k, v in member.fields.items())
                change.conflicts.append(
                    f"{member.label}: not on the roster; suggested id {person_id!r}. A roster "
                    "id is a hub user name, and this command cannot see the hub's other "
                    "courses or its admins: if nobody on the hub is called "
                    f"{person_id!r}, add {{id: {person_id}, {fields}}} under "
                    f"{ROLES[member.role]}: in the course file (another id if that one is "
                    "taken), then pull again")
                continue
            adds.setdefault(ROLES[member.role], []).append({"id": person_id, **member.fields})
            change.details.append(f"add {person_id} ({member.role}, {member.label})"
                                  + "".join(f", {k} {v}" for k, v in member.fields.items()
                                            if k in ("sis_id", "email")))
            change.added += 1
            continue
        key, index, entry = found
        line = roster[key].lc.item(index)[0] + 1
        if ROLES[member.role] != key:
            role = ROLE_OF[key]
            change.conflicts.append(
                f"{member.label}: {entry['id']} is {'an' if role[0] in 'aeiou' else 'a'} "
                f"{role} in the course file ({course_file}:{line}); the LMS says "
                f"{member.role}. Change the role in the course file if it changed")
            continue
        changes = {k: v for k, v in member.fields.items() if str(entry.get(k, "")) != v}
        if not changes:
            change.unchanged += 1
            continue
        updates.append((key, index, changes))
        change.details.append(f"update {entry['id']} ({member.label}): " + ", ".join(
            f"{k} {str(entry.get(k, ''))!r} -> {v!r}" for k, v in changes.items()))
        change.updated += 1
    change.conflicts += _shared_keys(list(people.values()), adds, updates)
    # in the roster's own order: roster_text appends a new list (graders:) after the roster's
    # last line, where the students' new entries go too, so the lists that exist come first
    adds = {key: adds[key] for key in ROLES.values() if key in adds}
    return change, adds, updates


def _shared_keys(people, adds, updates) -> list[str]:
    """An sis_id or email two people would hold after the pull (an LMS matches by them)."""
    changed = {(key, index): changes for key, index, changes in updates}
    holders: dict[tuple[str, str], list[str]] = {}
    everyone = [{**entry, **changed.get((key, index), {})} for key, index, entry in people]
    everyone += [person for added in adds.values() for person in added]
    for person in everyone:
        for field in ("sis_id", "email"):
            value = str(person.get(field) or "")
            if value:
                holders.setdefault((field, value.casefold() if field == "email" else value),
                                   []).append(str(person["id"]))
    return [f"{' and '.join(ids)} would share the {field} {value!r}: an LMS matches students by "
            "it, so one would get the other's grades"
            for (field, value), ids in holders.items() if len(ids) > 1]


def pull_roster(course_file: Path, *, dry_run: bool = False, client_for=None,
                hub_names: Collection[str] | None = None) -> RosterChange:
    """Merge the LMS's members into the course file. Conflicts refuse the pull (a UserError
    naming each); with ``dry_run`` they are returned and nothing is written. ``client_for``
    makes a platform's ServiceClient (default: one signed with the newest key).
    ``hub_names``: the hub's other user names (the other courses' rosters, the admins), which
    a new person's id avoids; None (the command line, which cannot know them): a new person is
    a conflict naming a suggested id, for the instructor to confirm and add by hand."""
    course = parse_course(course_file.read_text(encoding="utf-8"), course_file)
    if not any(c.memberships_url for p in course.lti.platforms for c in p.contexts):
        raise UserError(f"{course_file} names no LMS context with a memberships_url (lti: "
                        "platforms: contexts:), so there is no roster to pull")
    members = read_members(course, course_file, client_for=client_for)
    change, adds, updates = _plan(load_yaml_tree(course_file), members, course_file,
                                  hub_names)
    if dry_run:
        return change
    if change.conflicts:
        raise UserError("\n".join(change.conflicts))
    if adds or updates:
        write_people(course_file, adds, updates, "pulling the roster from the LMS")
    return change
