"""One list of the ``COURSE_*`` environment variables (``course.environment``): the README's
table says the same, every name the packages and deploy/ use is in it, and each reader it names
does mention its variable."""

import re

from small_courses import REPO

from course.environment import VARIABLES, variable

PACKAGES = ("course", "autograder", "exchange", "hub_config", "dashboard", "commands", "devhub")
SOURCE = ("*.py", "*.yml", "*.yaml", "*.sh", "*.Dockerfile", "*.conf")
NAME = re.compile(r"\bCOURSE_[A-Z0-9_]+\b")
# in the tests only what is read from (or put into) the environment is a variable: the tests
# also hold constants that are spelt alike (COURSE_UID in tests/deploy/test_compose.py)
READ = re.compile(r"(?:environ(?:\.get|\.setdefault|\.pop)?\s*[\[(]|getenv\s*\(|setenv\s*\(|"
                  r"delenv\s*\(|canary\s*=)\s*[\"'](COURSE_[A-Z0-9_]+)[\"']")


def _files(root, patterns=SOURCE):
    for pattern in patterns:
        for path in sorted(root.rglob(pattern)):
            if "node_modules" not in path.parts and "__pycache__" not in path.parts:
                yield path


def _used_in_code() -> dict[str, set[str]]:
    used: dict[str, set[str]] = {}
    for folder in (*PACKAGES, "deploy"):
        for path in _files(REPO / folder):
            relative = str(path.relative_to(REPO))
            if relative == "course/environment.py":  # the list itself
                continue
            for name in NAME.findall(path.read_text(errors="replace")):
                used.setdefault(name, set()).add(relative)
    for path in _files(REPO / "tests", ("*.py",)):
        for name in READ.findall(path.read_text(errors="replace")):
            used.setdefault(name, set()).add(str(path.relative_to(REPO)))
    return used


def test_every_course_variable_in_the_code_is_listed():
    listed = {row.name for row in VARIABLES}
    used = _used_in_code()
    assert "COURSE_DB_URL" in used and "COURSE_TEST_DOCKER_ROOT" in used  # the scan finds them
    # (course/coursefile.py's and devhub's constants COURSE_FILE and COURSE_ID share a name
    # with a variable: a constant named COURSE_* otherwise would need its own exception here)
    unlisted = {name: sorted(files) for name, files in used.items() if name not in listed}
    assert unlisted == {}, "add them to course/environment.py (and the README's table)"
    unused = sorted(listed - set(used))
    assert unused == [], "listed but read nowhere"


def test_each_reader_mentions_its_variable():
    names = [row.name for row in VARIABLES]
    assert len(names) == len(set(names))
    for row in VARIABLES:
        assert row.readers and row.meaning and "|" not in row.meaning, row.name
        for reader in row.readers:
            assert row.name in (REPO / reader).read_text(), f"{reader} does not read {row.name}"
        assert row.test_only == all(r.startswith("tests/") for r in row.readers), row.name


def _readme_rows() -> dict[str, tuple[str, tuple[str, ...]]]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("\n## Environment variables\n", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        name, meaning, readers = (cell.strip() for cell in line.strip().strip("|").split(" | "))
        rows[name.strip("`")] = (meaning, tuple(r.strip().strip("`") for r in readers.split(",")))
    return rows


def test_the_readme_table_is_the_module():
    rows = _readme_rows()
    expected = {row.name: (row.meaning, row.readers) for row in VARIABLES if not row.test_only}
    assert rows == expected
    assert list(rows) == list(expected)  # in the same order
    assert variable("COURSE_USER").readers == ("course/gradebook/records.py",)
