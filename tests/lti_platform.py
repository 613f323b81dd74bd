"""A running LTI 1.3 platform for the tests: the part of Moodle or Canvas the tool talks to.

Real keys and signatures (an RSA key of its own, published at ``/jwks``), served by tornado on a
loopback port from a thread of the test process. The core here holds what every part of the
platform shares: its issuer, key, the tools registered with it, the courses (contexts) and their
members. The launch side (OIDC login, the signed ``id_token``) and the services side (OAuth2
client credentials, Names and Role Provisioning, Assignment and Grade Services) add their
handlers through ``handlers=``; each handler finds the platform at ``self.application.settings
["platform"]``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from tornado import httpserver, web

__all__ = ["Context", "LtiPlatform", "Member", "ToolRegistration", "new_rsa_key", "public_jwk"]


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict:
    """The public half of ``key`` as a JWK with ``kid``, as a JWKS endpoint lists it."""
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "alg": "RS256", "use": "sig"}


@dataclass
class ToolRegistration:
    """One tool as the platform knows it (what an LMS admin pastes when registering a tool)."""
    client_id: str
    deployment_id: str
    login_url: str  # the tool's OIDC login initiation URL
    launch_url: str  # target_link_uri and the redirect URI the id_token is posted to
    jwks_url: str  # where the platform fetches the tool's public keys (client assertions)
    redirect_uris: tuple[str, ...] = ()


@dataclass
class Member:
    user_id: str  # the LMS's own opaque id (the id_token's sub)
    email: str
    name: str
    roles: tuple[str, ...]  # full LTI role URIs
    sis_id: str | None = None  # lis_person_sourcedid


@dataclass
class Context:
    context_id: str
    title: str
    members: list[Member] = field(default_factory=list)


LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
TEACHING_ASSISTANT = "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"


class JwksHandler(web.RequestHandler):
    def get(self):
        platform: LtiPlatform = self.application.settings["platform"]
        self.set_header("Content-Type", "application/json")
        self.write({"keys": [public_jwk(platform.key, platform.kid)]})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LtiPlatform:
    """``with LtiPlatform(handlers=[...]) as platform:`` serves on ``platform.url`` until the
    block ends."""

    def __init__(self, handlers: list[tuple] = (), clock: Callable[[], float] = time.time):
        # what every part of the platform takes the time from (a stand-in for an LMS's clock:
        # the tool and the hub check its tokens against their own clocks, so tests sign and
        # expire relative to it and pass on any date)
        self.clock = clock
        self.key = new_rsa_key()
        self.kid = f"platform-{uuid.uuid4().hex[:8]}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.tools: dict[str, ToolRegistration] = {}  # by client_id
        self.contexts: dict[str, Context] = {}
        self.state: dict = {}  # for the handlers' own records (line items, scores, used nonces)
        self._handlers = [(r"/jwks", JwksHandler), *handlers]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def issuer(self) -> str:
        return self.url

    @property
    def jwks_url(self) -> str:
        return f"{self.url}/jwks"

    def register_tool(self, tool: ToolRegistration) -> ToolRegistration:
        self.tools[tool.client_id] = tool
        return tool

    def add_context(self, context: Context) -> Context:
        self.contexts[context.context_id] = context
        return context

    def sign(self, claims: dict, *, key: rsa.RSAPrivateKey | None = None,
             kid: str | None = None, lifetime: int = 300, now: float | None = None) -> str:
        """``claims`` as a JWT signed by the platform (or by ``key``, for the attacks), with
        ``iat``/``exp`` unless given. ``now`` is the token's clock: the verifier checks ``exp``
        against the real time, so an expired token is one signed with ``now`` in the past."""
        issued = self.clock() if now is None else now
        body = {"iss": self.issuer, "iat": int(issued), "exp": int(issued + lifetime), **claims}
        return jwt.encode(body, key or self.key, algorithm="RS256",
                          headers={"kid": kid or self.kid})

    def __enter__(self) -> Self:
        ready = threading.Event()

        def serve():
            self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(self._loop)
            app = web.Application(self._handlers, platform=self)
            server = httpserver.HTTPServer(app)
            server.listen(self.port, address="127.0.0.1")
            self._loop.call_soon(ready.set)
            self._loop.run_forever()
            server.stop()
            self._loop.close()

        self._thread = threading.Thread(target=serve, name="lti-platform", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the LTI platform did not start")
        return self

    def __exit__(self, *exc) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
