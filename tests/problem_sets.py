"""Running a problem set's source notebook in-process, for the checker tests.

The cells run with ``exec`` in one fresh namespace, in order, as a kernel would run them;
the nbgrader pipeline itself (kernels, gradebook, feedback) is tested in test_grading.py.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from cnncourse.checks._core import hidden_draws
from cnncourse.grading.cells import grade_id, is_solution_cell, is_test_cell

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "exercises" / "source"
MUTANTS = ROOT / "exercises" / "mutants"
ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if p.is_dir())


def read_notebook(assignment: str) -> NotebookNode:
    return nbformat.read(SOURCE / assignment / f"{assignment}.ipynb", as_version=4)


def mutant_files(assignment: str) -> list[Path]:
    return sorted((MUTANTS / assignment).glob("*.py"))


def run_cells(nb: NotebookNode, *, every_cell: bool = False,
              skip: frozenset[str] | set[str] = frozenset(),
              seed: int | str = 0) -> dict[str, BaseException | None]:
    """Execute the setup, solution and test cells (``every_cell``: all code cells, self-checks
    included) in one fresh namespace, leaving out the cells whose grade id is in ``skip``,
    hidden cases drawn from ``seed``. Returns, per cell, the exception it raised or None."""
    with hidden_draws(seed):
        return _run_cells(nb, every_cell, skip)


def _run_cells(nb: NotebookNode, every_cell: bool, skip: frozenset[str] | set[str]
               ) -> dict[str, BaseException | None]:
    namespace: dict = {"__name__": "__main__"}
    outcome: dict[str, BaseException | None] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        key = grade_id(cell) or cell.get("id")
        if not (every_cell or grade_id(cell)) or key in skip:
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, f"<cell {key}>", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - a failing cell is an outcome, as in nbgrader
            outcome[key] = exc
        else:
            outcome[key] = None
    return outcome


def solutions(assignment: str) -> dict:
    """The namespace after running the setup cell and every solution cell: the reference
    answers, taken from the source notebook rather than typed again."""
    namespace: dict = {"__name__": "__main__"}
    for cell in read_notebook(assignment).cells:
        if grade_id(cell) == "setup" or is_solution_cell(cell):
            exec(compile(cell.source, f"<cell {grade_id(cell)}>", "exec"), namespace)
    return namespace


def graded_ids(nb: NotebookNode) -> list[str]:
    return [grade_id(cell) for cell in nb.cells if is_test_cell(cell)]


def release_version(nb: NotebookNode) -> NotebookNode:
    """What students receive: nbgrader's own ClearSolutions applied to the source."""
    from nbgrader.preprocessors import ClearSolutions

    released, _ = ClearSolutions().preprocess(nb, {})
    return released
