"""A corpus of broken submissions for the toy assignment (``tests/fixtures/course``).

Each case is one student of a class, built from the toy release answered with the
reference solutions (``full``): what is broken or tampered with, the score it must get
out of 5 (``add`` is worth 2, ``norm`` 3), and a pattern its reason in ``grades.csv``
must match (``""``: no reason at all, it is graded like any other answer).

- :data:`BROKEN`: files and notebooks a grader meets in a real class: not JSON, empty,
  renamed, cells deleted, duplicated or re-created without their metadata, edited tests,
  code that ends Python or crashes it, ``MemoryError`` and a memory bomb, an endless loop, 100 MB
  of printed output and a huge image, torch warnings, and student ids with dots, plus
  signs, spaces and non-ASCII letters.
Submissions written to cheat are in ``attacks.py``.

``tests/test_grading_corpus.py`` grades the corpus as one class with ``cnncourse grade``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_notebook

from cnncourse.grading.cells import cells_by_grade_id, grade_id

Notebook = nbformat.NotebookNode
FULL = 5.0


@dataclass(frozen=True)
class Case:
    student: str
    what: str
    score: float
    reason: str  # a regular expression searched in the reason; "" means the reason is empty
    build: Callable[[Notebook], Notebook | str]  # the notebook, or the file's raw text
    file_name: str = "toy.ipynb"
    review: bool = False  # must be flagged for a human look (needs_manual_grade)


def _set(gid: str, source: str) -> Callable[[Notebook], Notebook]:
    def build(nb: Notebook) -> Notebook:
        nb = copy.deepcopy(nb)
        cells_by_grade_id(nb)[gid][1].source = source
        return nb
    return build


def _self_check(part: str, source: str) -> Callable[[Notebook], Notebook]:
    """Replace the ungraded self-check cell that follows ``<part>_solution``."""
    def build(nb: Notebook) -> Notebook:
        nb = copy.deepcopy(nb)
        position = cells_by_grade_id(nb)[f"{part}_solution"][0]
        nb.cells[position + 1].source = source
        return nb
    return build


def _drop(*gids: str) -> Callable[[Notebook], Notebook]:
    def build(nb: Notebook) -> Notebook:
        nb = copy.deepcopy(nb)
        nb.cells = [cell for cell in nb.cells if grade_id(cell) not in gids]
        return nb
    return build


def _duplicate(*gids: str) -> Callable[[Notebook], Notebook]:
    def build(nb: Notebook) -> Notebook:
        nb = copy.deepcopy(nb)
        cells = []
        for cell in nb.cells:
            cells.append(cell)
            if grade_id(cell) in gids:
                twin = copy.deepcopy(cell)
                twin["id"] = cell["id"] + "-copy"
                cells.append(twin)
        nb.cells = cells
        return nb
    return build


def _recreated(nb: Notebook) -> Notebook:
    """Every cell copied into a fresh notebook: the nbgrader metadata is gone."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _empty(nb: Notebook) -> Notebook:
    empty = new_notebook()
    empty.metadata = copy.deepcopy(nb.metadata)
    return empty


def _same(nb: Notebook) -> Notebook:
    return nb


def _text(text: str) -> Callable[[Notebook], str]:
    return lambda nb: text


RIGHT_ADD = "def add(a, b):\n    return a + b\n"
RIGHT_NORM = "def norm(v):\n    return math.sqrt(sum(x * x for x in v))\n"

BROKEN = [
    Case("full", "the reference answers (a control)", 5, "", _same),
    Case("partial", "norm forgets the square root (a control)", 2, "",
         _set("norm_solution", "def norm(v):\n    return sum(x * x for x in v)\n")),
    Case("invalid_json", "a truncated file", 0, r"toy\.ipynb is not valid JSON",
         _text('{"cells": [ {"cell_type": "code",')),
    Case("empty_file", "a file of 0 bytes", 0, r"toy\.ipynb is not valid JSON", _text("")),
    Case("empty_notebook", "a notebook without cells", 0, r"solution cell deleted", _empty),
    Case("renamed", "saved as toy-Copy1.ipynb", 5, r"graded toy-Copy1\.ipynb as toy\.ipynb",
         _same, file_name="toy-Copy1.ipynb"),
    Case("deleted_cells", "the add solution and a test cell deleted", 3,
         r"test cell deleted: restored from the release \(norm_test\).*"
         r"solution cell deleted: add_solution", _drop("add_solution", "norm_test")),
    Case("duplicated_cells", "solution and test cells pasted twice", 5,
         r"cells pasted twice: the copies of add_solution, norm_test were graded as "
         r"ordinary code", _duplicate("add_solution", "norm_test")),
    Case("recreated_cells", "cells re-created: no nbgrader metadata", 5,
         r"test cell deleted: restored.*solution cell deleted.*lost its nbgrader metadata",
         _recreated),
    Case("changed_tests", "test cells edited to pass", 5,
         r"locked cell edited: restored from the release \(add_test, norm_test_hidden\)",
         lambda nb: _set("norm_test_hidden", "print('ok')")(_set("add_test", "pass")(nb))),
    Case("ann.lee", "os._exit in the norm self-check (a dot in the student id)", 2,
         r"ended Python in cell 10.*the parts after it score 0",
         _self_check("norm", "import os\nos._exit(1)")),
    Case("segfault", "a segmentation fault in the norm self-check", 2,
         r"ended Python in cell 10",
         _self_check("norm", "import faulthandler\nfaulthandler._sigsegv()")),
    Case("bo+carl", "norm raises MemoryError (a plus sign in the student id)", 2,
         r"ran out of memory: the limit is 4 GB",
         _set("norm_solution", "def norm(v):\n    raise MemoryError('no room')\n")),
    # bytearray pages are only mapped, not filled: the 4 GB limit stops it at once, where
    # b'x' * n would spend seconds writing memory first (a busy grading machine times out)
    Case("memory_bomb", "norm asks for 256 MB after 256 MB, without end", 2,
         r"ran out of memory: the limit is 4 GB",
         lambda nb: _self_check("norm", "pass")(_set(
             "norm_solution", "def norm(v):\n    hog = []\n    while True:\n"
                              "        hog.append(bytearray(2**28))\n")(nb))),
    Case("infinite_loop", "an endless loop after the norm solution: the rest is graded", 5,
         r"timed out after \d+ s in cell 9 \(norm_solution\)",
         _set("norm_solution", RIGHT_NORM + "while True:\n    pass\n")),
    Case("huge_output", "100 MB printed by the norm self-check", 5,
         r"output cut at 1000 kB in cell\(s\) 10",
         _self_check("norm", "print('x' * 100_000_000)")),
    Case("huge_image", "a 30 MB image displayed by the add self-check", 5,
         r"output cut at 1000 kB in cell\(s\) 5",
         _self_check("add", "from IPython.display import Image, display\n"
                            "display(Image(data=b'\\x89PNG\\r\\n\\x1a\\n' + bytes(30_000_000), "
                            "format='png'))")),
    Case("dörte-łukasz", "torch warnings on stderr (non-ASCII letters in the id)", 5, "",
         _set("add_solution", "import torch\nimport torch.nn.functional as F\n"
                              "F.softmax(torch.ones(3))  # implicit dim: a UserWarning\n"
                              "import sys\nprint('UserWarning: just a warning', file=sys.stderr)\n"
                              + RIGHT_ADD)),
    Case("carl jung", "norm forgets the square root (a space in the student id)", 2, "",
         _set("norm_solution", "def norm(v):\n    return sum(x * x for x in v)\n")),
]

def write_class(root: Path, cases: list[Case], full: Notebook, assignment: str = "toy") -> None:
    """Hand in every case as its student's submission in the course at ``root``."""
    for case in cases:
        folder = root / "submitted" / case.student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        built = case.build(full)
        if isinstance(built, str):
            (folder / case.file_name).write_text(built, encoding="utf-8")
        else:
            nbformat.write(built, folder / case.file_name)
