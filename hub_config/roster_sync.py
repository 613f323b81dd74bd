"""The hub's course groups follow the course files, both ways: the hub service ``roster-sync``.

JupyterHub's ``load_groups`` only adds members when the hub starts, so someone dropped from a
roster would keep the group (and the formgrader or exchange it opens) until a restart, and
someone added would wait for one. This service compares each course's groups
(``hub_config.roles.course_groups``) with the hub's every few seconds and after every edit of
a course file, and adds and removes members through the hub's API. Its token may touch only
those groups (``groups!group=...``). People the hub does not know yet (never logged in) are
added once they exist. The services check the roster themselves at every request as well; this
keeps the hub's own view (its admin page, the routes a group opens) in line.

Someone dropped from every roster also loses their server: it is stopped before they leave
their last group (the token may stop the servers of the groups' members only:
``delete:servers!group=...``). Logging in again is refused by the authenticator
(``hub_config.authenticators.RosterAuthenticator``), which reads the same course files.

Run by the hub (``hub_config.settings``)::

    python -m hub_config.roster_sync --course A/course.yml --course B/course.yml
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import requests

from course.coursefile import load_course
from course.errors import UserError

from .roles import course_groups

__all__ = ["GroupChange", "scopes", "sync_once"]

log = logging.getLogger("roster-sync")


@dataclass(frozen=True)
class GroupChange:
    group: str
    added: tuple[str, ...]
    removed: tuple[str, ...]
    stopped: tuple[str, ...] = ()  # removed members on no roster any more: server stopped


def scopes(groups: list[str]) -> list[str]:
    """The service's scopes: those groups' members, and their members' servers' stopping."""
    return [scope for name in groups
            for scope in (f"groups!group={name}", f"delete:servers!group={name}")]


def desired_groups(course_files: list[Path]) -> dict[str, set[str]]:
    wanted: dict[str, set[str]] = {}
    for path in course_files:
        course, _ = load_course(path)
        for name, group in course_groups(course).items():
            wanted[name] = set(group["users"])
    return wanted


def sync_once(api_url: str, token: str, course_files: list[Path]) -> list[GroupChange]:
    """Bring each course group's members in line with the course files; returns the changes.
    A course file that does not load raises before anything changes (an edit half done)."""
    session = requests.Session()
    session.headers["Authorization"] = f"token {token}"
    changes = []
    desired = desired_groups(course_files)
    everyone = set().union(*desired.values())
    for name, wanted in desired.items():
        url = f"{api_url.rstrip('/')}/groups/{quote(name)}"
        reply = session.get(url, timeout=30)
        reply.raise_for_status()
        members = set(reply.json()["users"])
        added = tuple(user for user in sorted(wanted - members) if _add(session, url, user))
        removed = tuple(sorted(members - wanted))
        # while still a member (the token's scope): stop the servers of people on no roster
        stopped = tuple(user for user in removed if user not in everyone
                        and _stop(session, api_url, user))
        if removed:
            session.delete(url + "/users", json={"users": list(removed)},
                           timeout=30).raise_for_status()
        if added or removed:
            log.info("%s: added %s, removed %s, stopped the servers of %s", name, list(added),
                     list(removed), list(stopped))
            changes.append(GroupChange(name, added, removed, stopped))
    return changes


def _stop(session: requests.Session, api_url: str, user: str) -> bool:
    """Stop ``user``'s server (the hub answers 204 when none runs); False when it cannot."""
    reply = session.delete(f"{api_url.rstrip('/')}/users/{quote(user)}/server", timeout=60)
    if reply.status_code in (400, 403, 404):  # being renamed, out of the token's scope, gone
        log.warning("could not stop %s's server: HTTP %s %s", user, reply.status_code,
                    reply.text[:200])
        return False
    reply.raise_for_status()
    return True


def _add(session: requests.Session, url: str, user: str) -> bool:
    """Add one user; False when the hub does not know them yet (400: no such user)."""
    reply = session.post(url + "/users", json={"users": [user]}, timeout=30)
    if reply.status_code == 400:
        return False
    reply.raise_for_status()
    return True


def _exit(signum, frame) -> None:
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    # the hub stops a service with SIGINT and sends SIGTERM only 30 s later: exit on either
    # at once, and without a traceback. Python's own SIGINT handling is not enough: a hub started
    # with SIGINT ignored (a background job of a script) starts its services before it sets its
    # own handler, so they inherit the ignored SIGINT (CI's hub teardowns waited 30 s for this)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _exit)
    parser = argparse.ArgumentParser(prog="roster-sync", description=__doc__.split("\n")[0])
    parser.add_argument("--course", action="append", required=True, type=Path)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between checks")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[roster-sync %(asctime)s] %(message)s")
    api_url, token = os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"]
    while True:
        try:
            sync_once(api_url, token, args.course)
        except (OSError, UserError, requests.RequestException) as error:
            # a course file half edited, a hub restarting: try again next time
            log.warning("not synced this time: %s", error)
        time.sleep(args.interval)


if __name__ == "__main__":
    raise SystemExit(main())
