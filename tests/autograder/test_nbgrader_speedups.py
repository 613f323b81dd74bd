"""The two per-job savings of issue 26 item 6 change no answer: nbgrader's metadata check
raises what ``jsonschema.validate`` raises, and shared engines live only inside their job."""

from __future__ import annotations

import jsonschema
import pytest

from autograder.nbgrader_schema import install, validate
from course.nbgrader_engines import shared_engines

SCHEMA = {"type": "object", "properties": {"points": {"type": "number"}},
          "required": ["points"], "additionalProperties": False}


@pytest.mark.parametrize("instance", [{"points": "x"}, {}, {"points": 1, "other": 2}])
def test_an_invalid_cell_raises_the_error_jsonschema_raises(instance):
    with pytest.raises(jsonschema.ValidationError) as ours:
        validate(instance, SCHEMA)
    with pytest.raises(jsonschema.ValidationError) as theirs:
        jsonschema.validate(instance, SCHEMA)
    assert str(ours.value) == str(theirs.value)


def test_a_valid_cell_passes_and_a_bad_schema_is_still_refused():
    validate({"points": 2}, SCHEMA)
    with pytest.raises(jsonschema.SchemaError):
        validate({}, {"type": 12})


def test_a_schema_changed_in_place_is_checked_again():
    schema = {"type": "object"}
    validate({"points": "x"}, schema)
    schema["properties"] = {"points": {"type": "number"}}
    with pytest.raises(jsonschema.ValidationError):
        validate({"points": "x"}, schema)


def test_nbgrader_validates_with_it_and_still_refuses_bad_metadata():
    from nbformat.v4 import new_code_cell
    from nbgrader.nbgraderformat import ValidationError
    from nbgrader.nbgraderformat.v3 import MetadataValidatorV3

    install()
    cell = new_code_cell("x = 1")
    cell.metadata["nbgrader"] = {"schema_version": 3, "grade": True, "solution": False,
                                 "locked": False, "grade_id": "a", "points": "many"}
    with pytest.raises(ValidationError):
        MetadataValidatorV3().validate_cell(cell)
    cell.metadata["nbgrader"]["points"] = 2
    MetadataValidatorV3().validate_cell(cell)


def test_gradebooks_share_one_engine_inside_a_job_and_none_after(tmp_path, monkeypatch):
    import os
    import sys
    from pathlib import Path

    from nbgrader.api import Gradebook

    # a new nbgrader database runs ``alembic``, installed beside this interpreter
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")

    url = f"sqlite:///{tmp_path / 'gb.db'}"
    with shared_engines():
        first, second = Gradebook(url), Gradebook(url)
        assert first.engine is second.engine
        first.add_student("ada")
        first.close()
        assert [s.id for s in second.students] == ["ada"]
        second.close()
    after = Gradebook(url)
    assert after.engine is not first.engine
    assert [s.id for s in after.students] == ["ada"]
    after.close()
