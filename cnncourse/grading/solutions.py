"""Executed solution notebooks: ``solutions/<assignment>/<notebook>.ipynb``.

Made from the source notebooks: the reference answers stay, the nbgrader fences
(``### BEGIN SOLUTION`` / ``### END SOLUTION``) and cell metadata go, and the hidden test
regions are REMOVED, as in the release and in the feedback: solutions are handed to
students and problem sets are reused, so the hidden cases stay hidden. The visible tests
and self-checks remain and run, so the outputs show every check passing. If the reference
code fails, nothing is written and the command says which cell failed.
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path

import nbformat

from cnncourse.grading.cells import grade_id
from cnncourse.grading.course import Course, GradingError, display
from cnncourse.grading.feedback import strip_ansi

SOLUTION_FENCES = ("BEGIN SOLUTION", "END SOLUTION")
HIDDEN_BEGIN, HIDDEN_END = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


def remove_solution_fences(source: str) -> str:
    """``source`` without its ``### BEGIN/END SOLUTION`` lines (nbgrader's markers)."""
    return "\n".join(line for line in source.split("\n")
                     if not any(fence in line for fence in SOLUTION_FENCES))


def remove_hidden_tests(source: str) -> str:
    """``source`` without its ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` regions."""
    kept, hidden = [], False
    for line in source.split("\n"):
        if HIDDEN_BEGIN in line:
            hidden = True
        elif HIDDEN_END in line:
            hidden = False
        elif not hidden:
            kept.append(line)
    return "\n".join(kept)


def solution_notebook(source_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The reference answers without fences, hidden tests or outputs (nbgrader metadata
    stays until :func:`plain` drops it, so a failing cell can be named by its grade id)."""
    nb = copy.deepcopy(source_nb)
    for cell in nb.cells:
        cell.source = remove_hidden_tests(remove_solution_fences(cell.source))
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def plain(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` without nbgrader's cell metadata: an ordinary notebook for students."""
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _failed_cell(nb: nbformat.NotebookNode) -> str:
    """``cell 7 (conv_test): AssertionError: ...`` for the first cell with an error."""
    for position, cell in enumerate(nb.cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                name = f" ({grade_id(cell)})" if grade_id(cell) else ""
                message = strip_ansi(f"{output.get('ename')}: {output.get('evalue')}")
                return f"cell {position}{name}: {message}"
    return "a cell failed"


def execute(nb: nbformat.NotebookNode, folder: Path, cell_timeout: int) -> None:
    """Run ``nb`` in place with the course's python3 kernel, from ``folder``."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError

    from cnncourse.grading.nbgrader_app import ensure_venv_on_path

    ensure_venv_on_path()
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(folder)}})
    try:
        client.execute()
    except CellTimeoutError as error:
        raise GradingError(f"a cell ran longer than {cell_timeout} s (Execute.timeout in "
                           "nbgrader_config.py)") from error
    except CellExecutionError:
        raise GradingError(_failed_cell(nb)) from None


def build_solutions(course: Course, assignments: list[str],
                    echo: Callable[[str], None] = print) -> list[Path]:
    """Write the executed solution notebooks of ``assignments``; return their paths."""
    written = []
    for assignment in assignments:
        folder = course.solutions_dir / assignment
        staging = course.solutions_dir / f".{assignment}.partial"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(course.source_dir / assignment, staging,  # data files, if any
                        ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
        try:
            for path in course.source_notebooks(assignment):
                nb = solution_notebook(nbformat.read(path, as_version=4))
                try:
                    execute(nb, staging, course.settings.cell_timeout)
                except GradingError as error:
                    raise GradingError(f"the reference solution in {display(path)} fails: "
                                       f"{error}; fix it and run again") from None
                nbformat.write(plain(nb), staging / path.name)
            shutil.rmtree(folder, ignore_errors=True)
            staging.rename(folder)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        for path in sorted(folder.glob("*.ipynb")):
            echo(f"solutions: {display(path)}")
            written.append(path)
    return written
