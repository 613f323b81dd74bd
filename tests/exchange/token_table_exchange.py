"""One exchange process for test_two_exchanges.py: the real service (``ExchangeService``, its
routes, stores and ``run_forever``), with the hub's token check replaced by a table of tokens, as
``exchange_requests.AsUser`` replaces it in one process. It listens on the port it shares with
the other exchange processes (SO_REUSEPORT, ``run_forever``) and on a private port of its own,
written to ``PORTS_DIR/<its pid>`` once it serves, so that a test can also reach one process on
purpose. ``exchange.service.supervise`` runs the copies, as ``--processes N`` does.

    python tests/exchange/token_table_exchange.py TOKENS.json COURSE_FILE SHARED_PORT PORTS_DIR
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import ClassVar

from tornado import web
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from exchange.service import ExchangeService

PREFIX = "/services/exchange/"


class TokenTable(ExchangeService):
    """The exchange whose users are ``tokens`` (token -> user name): an unknown token is a 401,
    as the hub's answer would make it."""

    tokens: ClassVar[dict[str, str]] = {}

    async def authenticate(self, handler, *, cached=False):
        header = handler.request.headers.get("Authorization", "")
        user = self.tokens.get(header.removeprefix("token ").strip())
        if user is None:
            raise web.HTTPError(401, "the hub does not know this token")
        return {"name": user, "kind": "user"}


def main(tokens_file: str, course_file: str, shared_port: str, ports_dir: str) -> None:
    logging.basicConfig(level=logging.WARNING)
    TokenTable.tokens = json.loads(Path(tokens_file).read_text())
    service = TokenTable(courses=[course_file], ip="127.0.0.1", port=int(shared_port),
                         base_url=PREFIX, reuse_port=True)

    async def serve():
        private = HTTPServer(service.make_app(), max_body_size=service.max_body_bytes)
        sockets = bind_sockets(0, "127.0.0.1")
        private.add_sockets(sockets)
        port = sockets[0].getsockname()[1]

        def ready():
            staged = Path(ports_dir, f".{os.getpid()}")
            staged.write_text(str(port))
            staged.rename(Path(ports_dir, str(os.getpid())))

        await service.run_forever(ready=ready)

    asyncio.run(serve())


if __name__ == "__main__":
    main(*sys.argv[1:])
