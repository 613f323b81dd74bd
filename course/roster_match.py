"""Who an LMS account is on the roster: the one rule the LTI launch, the roster pull and the
grade push share.

- An ``sis_id`` both sides name decides: equal is the same person, different is someone else.
- Else the email (without case) matches, unless both sides name an sis_id (then they differ,
  and the email belongs to someone else).
- An sis_id match wins: a person matched by sis_id is matched by no email, and an account
  matched by sis_id is no one else's by email.
- The matching is one to one: a person two accounts match, or an account two people match,
  is ambiguous: reported, and neither merged nor sent grades.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["Identity", "Matching", "match_people"]


@dataclass(frozen=True)
class Identity:
    """A roster person or an LMS account, as the matching sees it. ``key``: the roster id or
    the LMS user id (unique on its side); ``label``: how a report names it."""
    key: str
    sis_id: str = ""
    email: str = ""
    label: str = ""

    @property
    def shown(self) -> str:
        return self.label or self.key


@dataclass
class Matching:
    pairs: dict[str, str] = field(default_factory=dict)  # person key -> account key
    ambiguous: list[str] = field(default_factory=list)  # one sentence each, for the report
    # keys of people and accounts left out because their match is ambiguous
    ambiguous_people: set[str] = field(default_factory=set)
    ambiguous_accounts: set[str] = field(default_factory=set)


def _email(value: str) -> str:
    return value.strip().casefold()


def match_people(people: list[Identity], accounts: list[Identity]) -> Matching:
    """The one-to-one matching of roster ``people`` to LMS ``accounts`` (see the module)."""
    by_sis = [(p, a) for p in people if p.sis_id for a in accounts if a.sis_id == p.sis_id]
    sis_people = {p.key for p, _ in by_sis}
    sis_accounts = {a.key for _, a in by_sis}
    by_email = [(p, a) for p in people if p.email and p.key not in sis_people
                for a in accounts if a.email and a.key not in sis_accounts
                and _email(a.email) == _email(p.email) and not (p.sis_id and a.sis_id)]
    found = by_sis + by_email
    result = Matching()
    for person in people:
        mine = [a for p, a in found if p.key == person.key]
        if len(mine) > 1:
            result.ambiguous_people.add(person.key)
            result.ambiguous.append(f"{person.shown} matches {len(mine)} LMS accounts ("
                                    + ", ".join(a.shown for a in mine) + ")")
    for account in accounts:
        theirs = [p for p, a in found if a.key == account.key]
        if len(theirs) > 1:
            result.ambiguous_accounts.add(account.key)
            result.ambiguous.append(f"the LMS account {account.shown} matches "
                                    + " and ".join(p.shown for p in theirs))
    for person, account in found:
        if person.key in result.ambiguous_people or account.key in result.ambiguous_accounts:
            result.ambiguous_people.add(person.key)  # neither side of a doubtful pair is used
            result.ambiguous_accounts.add(account.key)
            continue
        result.pairs[person.key] = account.key
    return result
