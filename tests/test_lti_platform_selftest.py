"""The tests' LTI 1.3 platform checks what Moodle or Canvas check (``tests/lti_platform.py``
with ``tests/lti_platform_services.py``): its token endpoint takes only an assertion signed by a
key the tool's JWKS URL lists, once, for it, unexpired; its services take only its tokens with
the scope. Without this, a tool test passing against it would prove nothing. The tool is played
here by a key and a JWKS served from this process, not by the tool's code (that side's refusals:
``tests/course/test_lti_services.py``)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import requests
from lti_platform import Context, LtiPlatform, Member, ToolRegistration, new_rsa_key, public_jwk
from lti_platform_services import JWT_BEARER, SERVICE_HANDLERS, memberships_url, token_url

CLIENT_ID = "tool-selftest"
KID = "tool-key-1"
CONTEXT = "ctx-selftest"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"


@contextmanager
def jwks_served(document: dict) -> Iterator[str]:
    """``document`` served at a loopback URL, as a tool's JWKS endpoint serves it."""
    body = json.dumps(document).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # http.server calls it by this name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def tool_key():
    return new_rsa_key()


@pytest.fixture
def lms(tool_key):
    with jwks_served({"keys": [public_jwk(tool_key, KID)]}) as jwks_url:
        platform = LtiPlatform(handlers=SERVICE_HANDLERS)
        platform.register_tool(ToolRegistration(CLIENT_ID, "1", "http://127.0.0.1:1/login",
                                                "http://127.0.0.1:1/launch", jwks_url))
        platform.add_context(Context(CONTEXT, "Self test", [
            Member("u-1", "one@example.org", "One Learner", (LEARNER,))]))
        with platform:
            yield platform


def _assertion(platform, key, kid, **claims):
    now = int(platform.clock())
    body = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": token_url(platform), "iat": now,
            "exp": now + 300, "jti": uuid.uuid4().hex, **claims}
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


def _ask_token(platform, assertion):
    return requests.post(token_url(platform), timeout=10, data={
        "grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion, "scope": SCORE_SCOPE})


def test_the_token_endpoint_takes_the_tools_key_and_refuses_others(lms, tool_key):
    good = _assertion(lms, tool_key, KID)
    assert _ask_token(lms, good).status_code == 200
    assert _ask_token(lms, good).status_code == 401  # the same jti again: a replay
    intruder = new_rsa_key()
    for assertion in (
        _assertion(lms, intruder, KID),  # another key claiming the tool's kid
        _assertion(lms, intruder, "not-published"),  # a key the JWKS does not list
        _assertion(lms, tool_key, KID, aud="https://elsewhere/token"),
        _assertion(lms, tool_key, KID, exp=int(lms.clock()) - 60),
        _assertion(lms, tool_key, KID, sub="someone-else"),
        _assertion(lms, tool_key, KID, iss="unknown-client"),
    ):
        reply = _ask_token(lms, assertion)
        assert reply.status_code == 401 and reply.json()["error"] == "invalid_client"


def test_service_calls_need_a_token_with_the_scope(lms, tool_key):
    url = memberships_url(lms, CONTEXT)
    assert requests.get(url, timeout=5).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer forged"},
                        timeout=5).status_code == 401
    token = _ask_token(lms, _assertion(lms, tool_key, KID)).json()["access_token"]
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"},  # score scope only
                        timeout=5).status_code == 403
