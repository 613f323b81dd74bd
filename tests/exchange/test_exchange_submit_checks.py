"""Submitting through the real exchange service: a notebook the grader could not read is refused
with 400 and a message naming the file expected, while the student can still fix it."""

import asyncio
import json
import shutil

import nbformat
import pytest

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from exchange import wire

AID = "01-numpy"


def submit_as(course_file, user: str, files: dict[str, bytes]) -> tuple[int, dict]:
    """POST api/courses/C/submissions/A on the real service, as ``user`` (the hub's token check
    replaced by a fixed answer)."""
    from tornado.httpclient import AsyncHTTPClient
    from tornado.httpserver import HTTPServer
    from tornado.testing import bind_unused_port

    from exchange.service import ExchangeService

    async def post():
        service = ExchangeService(course=str(course_file))

        async def as_user(handler):
            return {"name": user, "kind": "user"}

        service.authenticate = as_user
        sock, port = bind_unused_port()
        server = HTTPServer(service.make_app())
        server.add_sockets([sock])
        try:
            url = (f"http://127.0.0.1:{port}{service.base_url}{wire.API}/courses/"
                   f"{service.course_id}/submissions/{AID}")
            body = json.dumps({"files": wire.encode_files(files)})
            reply = await AsyncHTTPClient().fetch(url, method="POST", body=body,
                                                  raise_error=False)
            return reply.code, json.loads(reply.body)
        finally:
            server.stop()
            service._pool.submit(service.exchange.close).result()
            service._pool.shutdown()

    return asyncio.run(post())


@pytest.fixture
def course_file(make_course):
    root = make_course(assignments=(AID,))
    outbound = root / "exchange" / "dl-test" / "outbound" / AID
    outbound.mkdir(parents=True)
    for notebook in (root / "assignments" / AID).glob("*.ipynb"):
        shutil.copy(notebook, outbound / notebook.name)
    return root / "course.yml"


def solved(course_file) -> tuple[str, bytes]:
    (source,) = (course_file.parent / "assignments" / AID).glob("*.ipynb")
    nb = nbformat.read(source, as_version=4)
    return source.name, nbformat.writes(answer_notebook(nb, solution_cells(nb))).encode()


def test_renamed_and_damaged_notebooks_are_refused_by_the_service(course_file):
    name, content = solved(course_file)
    code, reply = submit_as(course_file, "ada", {"numpy-basics (1).ipynb": content})
    assert code == 400
    assert "numpy-basics (1).ipynb: not a notebook of 01-numpy" in reply["error"]
    assert "hand in numpy-basics.ipynb under exactly that name" in reply["error"]
    code, reply = submit_as(course_file, "ada", {name: b'{"cells": [ oops'})
    assert code == 400 and "numpy-basics.ipynb is not valid JSON" in reply["error"]
    assert not (course_file.parent / "inbox").exists() or not list(
        (course_file.parent / "inbox").rglob("*.ipynb"))
    code, reply = submit_as(course_file, "ada", {name: content})
    assert code == 201 and reply["sha256"]
