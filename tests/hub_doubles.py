"""Test doubles for the local JupyterHub: real subclasses with one method overridden.

``ScriptedHub`` is ``devhub.localhub.LocalHub`` plus a ``local-admin`` service whose token
scripts the hub (users, groups, servers, users' tokens), so a test or the exchange benchmark can
create users and hand out their tokens without a browser. ``course hub`` never has it.
"""

from __future__ import annotations

import json

import requests

from devhub.localhub import LocalHub

__all__ = ["ADMIN_SCOPES", "ScriptedHub"]

ADMIN_SCOPES = ["admin:users", "admin:servers", "admin:groups", "tokens", "access:servers",
                "list:users", "read:users"]


class ScriptedHub(LocalHub):
    def __init__(self, *args, admin_token: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.admin_token = admin_token

    def config_lines(self) -> list[str]:
        service = {"name": "local-admin", "api_token": self.admin_token}
        role = {"name": "local-admin", "scopes": ADMIN_SCOPES, "services": ["local-admin"]}
        return [*super().config_lines(), f"c.JupyterHub.services.append({service!r})",
                f"c.JupyterHub.load_roles.append({role!r})"]

    def token_for(self, user: str, note: str = "local hub") -> str:
        """A new JupyterHub token of ``user``."""
        return self.api("POST", f"users/{user}/tokens", self.admin_token, {"note": note})["token"]

    def api(self, method: str, path: str, token: str, body: dict | None = None,
            expect: tuple[int, ...] = (200, 201, 202, 204)) -> dict | None:
        """The hub's REST API with ``token``; RuntimeError on any other status."""
        reply = requests.request(method, f"{self.url}/hub/api/{path.lstrip('/')}",
                                 headers={"Authorization": f"token {token}"},
                                 data=None if body is None else json.dumps(body), timeout=60)
        if reply.status_code not in expect:
            raise RuntimeError(f"{method} {path}: HTTP {reply.status_code} {reply.text[:300]}")
        return reply.json() if reply.content else None
