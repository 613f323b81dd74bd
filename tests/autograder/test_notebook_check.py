"""The hand-in's notebook check (``autograder.notebooks.notebook_problem``): a format-4
notebook is validated as parsed, without nbformat's ``NotebookNode`` tree; its verdict must be
nbformat's own for every input. Attacked with a crafted old-format file whose conversion
raises what nbformat's reader never documents, and with seeded random damage to the shipped
notebooks compared against ``nbformat.reads`` + ``nbformat.validate``."""

from __future__ import annotations

import copy
import json
import logging
import random
import warnings

import nbformat
import pytest
from small_courses import REPO

from autograder.notebooks import _plain_v4, notebook_problem

# a format-1 notebook with an unknown cell type: nbformat's converter raises UnboundLocalError
CRAFTED_OLD_FORMAT = {"nbformat": 1, "metadata": {}, "cells": [{"cell_type": "bogus"}]}
ODD_VALUES = [None, 1, "x", [], {}, [1], {"a": 1}, True, 3.5, ["a", 1]]


def nbformat_verdict(content: bytes) -> str | None:
    """What nbformat's own reader says: None (readable), "json" or "invalid"."""
    try:
        nbformat.validate(nbformat.reads(content.decode("utf-8"), as_version=4))
    except (UnicodeDecodeError, nbformat.reader.NotJSONError):
        return "json"
    except Exception:  # noqa: BLE001 - whatever it raises, the file is not readable
        return "invalid"
    return None


def our_verdict(content: bytes) -> str | None:
    problem = notebook_problem("n.ipynb", content)
    if problem is None:
        return None
    return "json" if "not valid JSON" in problem else "invalid"


def damage(rng: random.Random, value) -> None:
    if isinstance(value, dict) and value:
        key, roll = rng.choice(list(value)), rng.random()
        if roll < 0.25:
            del value[key]
        elif roll < 0.5:
            value[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif roll < 0.6:
            value["extra_key"] = 1
        else:
            damage(rng, value[key])
    elif isinstance(value, list) and value:
        index, roll = rng.randrange(len(value)), rng.random()
        if roll < 0.3:
            value[index] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif roll < 0.45:
            value.append(copy.deepcopy(value[index]))  # a duplicate cell id, among others
        elif roll < 0.55:
            del value[index]
        else:
            damage(rng, value[index])


def test_a_crafted_old_format_file_is_refused_not_raised():
    problem = notebook_problem("a.ipynb", json.dumps(CRAFTED_OLD_FORMAT).encode())
    assert problem is not None and problem.startswith("a.ipynb is not a valid notebook")


@pytest.mark.parametrize("content", [b"\xff\xfe", b"{", b"[]", b"null", b'{"nbformat": 4}',
                                     b'{"nbformat": 3}'])
def test_what_is_not_a_notebook_gets_nbformats_verdict(content):
    assert our_verdict(content) == nbformat_verdict(content) is not None


def test_the_verdict_is_nbformats_for_damaged_notebooks():
    logging.disable(logging.CRITICAL)  # nbformat logs every invalid notebook it reads
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # duplicate cell ids: repaired, with a warning
            rng = random.Random(26)
            shipped = [json.loads(path.read_bytes())
                       for path in sorted((REPO / "assignments").glob("*/*.ipynb"))[:6]]
            fast = 0
            for _ in range(400):
                document = copy.deepcopy(rng.choice(shipped))
                for _ in range(rng.randint(0, 3)):
                    damage(rng, document)
                if rng.random() < 0.1:
                    document["metadata"] = {"signature": "x", "orig_nbformat": 3}
                if rng.random() < 0.05:
                    document["nbformat_minor"] = rng.choice([0, 4, 6, "5", -1])
                content = json.dumps(document).encode()
                fast += _plain_v4(json.loads(content))
                assert our_verdict(content) == nbformat_verdict(content), content[:300]
    finally:
        logging.disable(logging.NOTSET)
    assert fast > 100  # the fast path was taken, and agreed
