"""The parsed-course cache: a clean course file is parsed once; what comes back from the cache
is the same course, an edit misses, and errors still name their lines."""

from __future__ import annotations

import json
import os

import pytest

from course import parse_cache
from course.coursefile import CourseFileError, load_course


def entries() -> list:
    folder = parse_cache.cache_dir()
    return sorted(folder.glob("*.json")) if folder.exists() else []


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def test_a_cached_course_equals_a_parsed_one(make_course, monkeypatch):
    root = make_course()
    fresh, _ = load_course(root)
    assert len(entries()) == 1
    # The second load must not parse YAML at all: make parsing fail loudly.
    monkeypatch.setattr("course.coursefile.reading_yaml", lambda: pytest.fail("parsed again"))
    cached, _ = load_course(root)
    assert cached.model_dump() == fresh.model_dump()
    assert [a.due for a in cached.assignments] == [a.due for a in fresh.assignments]


def test_an_edit_misses_and_its_errors_name_the_line(make_course):
    root = make_course()
    load_course(root)
    text = (root / "course.yml").read_text()
    (root / "course.yml").write_text(text.replace("timezone: Europe/Berlin",
                                                  "timezone: Europe/Nowhere"))
    with pytest.raises(CourseFileError) as caught:
        load_course(root)
    assert "course.yml:3: timezone" in str(caught.value) and "Europe/Nowhere" in str(caught.value)
    assert len(entries()) == 1  # a file with errors is never cached


def test_a_cached_entry_that_no_longer_checks_is_reparsed_for_line_numbers(make_course):
    """An entry is only parsed data: every check runs on it again, and a failing check sends
    the file through the full parse, whose errors carry lines."""
    root = make_course()
    load_course(root)
    [entry] = entries()
    data = json.loads(entry.read_text())
    data["assignments"][0]["for_session"] = 99  # as if the cache were stale or damaged
    entry.write_text(json.dumps(data))
    course, _ = load_course(root)  # the file itself is fine: the full parse wins
    assert course.assignments[0].for_session == 2
    assert json.loads(entry.read_text())["assignments"][0]["for_session"] == 2  # and heals it


def test_an_unwritable_cache_is_not_used(make_course, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    root = make_course()
    first, _ = load_course(root)
    second, _ = load_course(root)
    assert first.model_dump() == second.model_dump()


def test_entries_are_pruned(make_course, monkeypatch):
    monkeypatch.setattr(parse_cache, "KEEP", 2)
    root = make_course()
    text = (root / "course.yml").read_text()
    for title in ("A", "B", "C", "D"):
        (root / "course.yml").write_text(text.replace("Deep Learning (test)", title))
        load_course(root)
        os.utime(entries()[-1])  # distinct modification times order the entries
    assert len(entries()) == 2
