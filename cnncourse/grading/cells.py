"""Reading nbgrader cell metadata: grade ids, test and solution cells, graded parts.

A graded part ``<part>`` has a solution cell ``<part>_solution`` and test cells
``<part>_test`` / ``<part>_test_hidden`` (the notebook contract in the team brief), so the
part of a test cell is its grade id without the ``_test...`` suffix.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from nbformat import NotebookNode

_TEST_SUFFIX = re.compile(r"_test(?:_hidden)?(?:_?\d+)?$")


def nbgrader_meta(cell: NotebookNode) -> dict:
    """The cell's nbgrader metadata (empty for ordinary cells)."""
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def grade_id(cell: NotebookNode) -> str | None:
    return nbgrader_meta(cell).get("grade_id")


def is_test_cell(cell: NotebookNode) -> bool:
    """An autograded test cell: graded, not a solution."""
    meta = nbgrader_meta(cell)
    return bool(meta.get("grade")) and not meta.get("solution") and cell.cell_type == "code"


def is_solution_cell(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("solution"))


def is_locked(cell: NotebookNode) -> bool:
    return bool(nbgrader_meta(cell).get("locked"))


def test_cells(nb: NotebookNode) -> list[NotebookNode]:
    return [cell for cell in nb.cells if is_test_cell(cell)]


def cells_by_grade_id(nb: NotebookNode) -> dict[str, tuple[int, NotebookNode]]:
    """grade id -> (position, cell) for every nbgrader cell."""
    return {gid: (i, cell) for i, cell in enumerate(nb.cells) if (gid := grade_id(cell))}


def part_of(test_grade_id: str) -> str:
    """``conv_test_hidden`` -> ``conv``; an id without the suffix is its own part."""
    return _TEST_SUFFIX.sub("", test_grade_id) or test_grade_id


def parts_in_order(grade_ids: Iterable[str]) -> list[str]:
    """The distinct parts of ``grade_ids``, in first-seen order."""
    return list(dict.fromkeys(part_of(g) for g in grade_ids))
