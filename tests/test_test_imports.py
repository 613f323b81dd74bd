"""Test modules take shared helpers from ``small_courses``, never ``from conftest import``:
with a conftest.py in several folders, which one that import finds depends on the order pytest
collected them (a CI run failed on it)."""

from small_courses import REPO


def test_no_test_module_imports_from_a_conftest():
    offenders = [str(path.relative_to(REPO)) for path in sorted((REPO / "tests").rglob("*.py"))
                 if path.name != "conftest.py"
                 and any(line.lstrip().startswith("from conftest import")
                         for line in path.read_text().splitlines())]
    assert offenders == []
