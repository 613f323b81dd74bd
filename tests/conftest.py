"""Shared test setup.

tests/ has no __init__.py, so pytest's default ("prepend") import mode puts tests/ on
sys.path before importing this file; plain `postgres_server` is therefore importable.
"""

# Throwaway PostgreSQL server: `postgres_server` (session) and `postgres_url` (per test).
pytest_plugins = ["postgres_server"]

import os
import tempfile
import textwrap
from pathlib import Path

import pytest

# also importable from small_courses: with several conftest.py files, which one
# `from conftest import` finds depends on the order pytest collected them
from small_courses import (  # noqa: F401 - `from conftest import utc`
    BASE_COURSE,
    REPO,
    create_gradebook,
    utc,
)

# What the platform caches (parsed course files) goes to a throwaway folder, not ~/.cache.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="course-test-cache-")




@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """The gradebook URL, once on a SQLite file and once on the throwaway PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gradebook.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def make_course(tmp_path, monkeypatch):
    """Write a course folder (course.yml, optional repo assignments) and return its root, with
    its gradebook created as `course init` or `course upgrade` would (``gradebook=False``: none;
    every command but those two refuses a missing gradebook)."""

    def make(text: str = BASE_COURSE, *, assignments: tuple[str, ...] = (), db_url=None,
             gradebook: bool = True) -> Path:
        import shutil

        root = tmp_path / "course"
        root.mkdir(exist_ok=True)
        (root / "course.yml").write_text(textwrap.dedent(text))
        for assignment_id in assignments:
            shutil.copytree(REPO / "assignments" / assignment_id,
                            root / "assignments" / assignment_id)
        if db_url:
            monkeypatch.setenv("COURSE_DB_URL", db_url)
        else:
            monkeypatch.delenv("COURSE_DB_URL", raising=False)
        monkeypatch.setenv("COURSE_USER", "ina")
        if gradebook:
            create_gradebook(root)
        return root

    return make



@pytest.fixture(scope="session", autouse=True)
def _temp_folders_reachable(tmp_path_factory):
    """A local hub started as root runs each course's formgrader as a user of its own
    (devhub.localhub.LocalHub.hand_course_folders): pytest's temporary folders (0700) must let
    other users pass through (o+x, no listing) to reach a course folder inside them."""
    if os.geteuid() != 0:
        yield
        return
    base = tmp_path_factory.getbasetemp()
    for folder in (base, *base.parents):
        if folder == Path(tempfile.gettempdir()) or folder == folder.parent:
            break
        folder.chmod(folder.stat().st_mode | 0o001)
    mktemp = pytest.TempPathFactory.mktemp

    def passable(self, *args, **kwargs):
        made = mktemp(self, *args, **kwargs)
        made.chmod(made.stat().st_mode | 0o001)
        return made

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pytest.TempPathFactory, "mktemp", passable)
        yield


@pytest.fixture(autouse=True)
def _no_course_file_from_the_shell(monkeypatch):
    """Every command finds its course through $COURSE_FILE first (course.locate): a developer's
    shell that sets it must not change which course a test reads."""
    monkeypatch.delenv("COURSE_FILE", raising=False)
