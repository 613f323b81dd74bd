"""The exchange's access log (``exchange.service.log_request``): one line per request, with the
token's owner at its end when the request was authenticated, on a real tornado server on
127.0.0.1. (The line that said "received ... from ..." per hand-in is gone: this one says it.)"""

from __future__ import annotations

import asyncio
import logging

from tornado import httpclient, httpserver, netutil, web

from exchange.service import log_request


class Authenticated(web.RequestHandler):
    def get(self):
        self.user = "ada"
        self.set_status(201)
        self.finish("ok")


class Refused(web.RequestHandler):
    def get(self):
        raise web.HTTPError(403)


async def fetch_both() -> None:
    app = web.Application([("/ok", Authenticated), ("/no", Refused)], log_function=log_request)
    (sock,) = netutil.bind_sockets(0, "127.0.0.1")
    server = httpserver.HTTPServer(app)
    server.add_sockets([sock])
    port = sock.getsockname()[1]
    client = httpclient.AsyncHTTPClient()
    try:
        await client.fetch(f"http://127.0.0.1:{port}/ok")
        await client.fetch(f"http://127.0.0.1:{port}/no", raise_error=False)
    finally:
        server.stop()
        client.close()


def test_one_line_per_request_with_its_user(caplog):
    with caplog.at_level(logging.INFO, logger="tornado.access"):
        asyncio.run(fetch_both())
    ok, = [r for r in caplog.records if "/ok" in r.getMessage()]
    no, = [r for r in caplog.records if "/no" in r.getMessage()]
    assert ok.levelno == logging.INFO and ok.getMessage().startswith("201 GET /ok (127.0.0.1)")
    assert ok.getMessage().endswith("ms ada")
    assert no.levelno == logging.WARNING and no.getMessage().startswith("403 GET /no")
    assert no.getMessage().endswith("ms")  # nobody authenticated: no name
