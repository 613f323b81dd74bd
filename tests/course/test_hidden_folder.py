"""``course.folders.write_hidden_folder``: a hand-in's staged folder, written without the
resolve-and-rename of ``write_folder`` (its names were checked by ``check_names``). Attacked:
a visible name, a name that cannot be written, a folder that exists already."""

from __future__ import annotations

import pytest

from course.folders import write_hidden_folder


def test_writes_every_file_under_a_hidden_name(tmp_path):
    dest = write_hidden_folder(tmp_path / "ada" / ".20261024T100000Z-ab.staged",
                               {"a.ipynb": b"{}", "data/x/y.csv": b"1,2"})
    assert (dest / "a.ipynb").read_bytes() == b"{}"
    assert (dest / "data" / "x" / "y.csv").read_bytes() == b"1,2"
    assert dest.stat().st_mode & 0o777 == 0o755


def test_refuses_a_visible_name_and_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="hidden"):
        write_hidden_folder(tmp_path / "20261024T100000Z-ab", {"a.ipynb": b"{}"})
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_written_leaves_no_folder(tmp_path):
    # "a" as a file and as a folder: the second cannot be made
    with pytest.raises(OSError):
        write_hidden_folder(tmp_path / ".x.staged", {"a": b"1", "a/b": b"2"})
    assert list(tmp_path.iterdir()) == []


def test_never_writes_into_a_folder_that_exists(tmp_path):
    (tmp_path / ".x.staged").mkdir()
    (tmp_path / ".x.staged" / "keep").write_bytes(b"k")
    with pytest.raises(FileExistsError):
        write_hidden_folder(tmp_path / ".x.staged", {"a.ipynb": b"{}"})
    assert [p.name for p in (tmp_path / ".x.staged").iterdir()] == ["keep"]
