"""Student versions: ``nbgrader generate_assignment`` into ``release/``.

nbgrader replaces each solution by the stub from ``nbgrader_config.py``, removes the hidden
tests, locks the test cells, and records the assignment (cells, points, checksums, hidden
tests included) in the gradebook, which is what autograding later compares against.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat

from cnncourse.grading.cells import test_cells
from cnncourse.grading.course import Course, GradingError, display
from cnncourse.grading.nbgrader_app import run_nbgrader
from cnncourse.grading.secret import course_secret, secret_path


def release_assignment(course: Course, assignment: str) -> list[Path]:
    """Generate the student version of one assignment; return the released notebooks."""
    run = run_nbgrader(
        ["generate_assignment", assignment, "--force", "--course-dir", str(course.root)],
        cwd=course.root,
    )
    released = sorted(course.release_dir.joinpath(assignment).glob("*.ipynb"))
    if not run.ok or not released:
        details = "; ".join(run.errors()[-3:] or run.log.strip().splitlines()[-1:])
        raise GradingError(f"nbgrader could not release '{assignment}': {details}")
    return released


def describe_release(notebook: Path) -> str:
    """``release/ps01/ps01.ipynb: 8 test cells, 20 points``."""
    nb = nbformat.read(notebook, as_version=4)
    tests = test_cells(nb)
    points = sum(float(cell.metadata["nbgrader"].get("points", 0)) for cell in tests)
    return f"{display(notebook)}: {len(tests)} test cells, {points:g} points"


def release(course: Course, assignments: list[str], echo: Callable[[str], None] = print) -> None:
    if not secret_path(course.root).is_file():
        course_secret(course.root)
        echo(f"made {secret_path(course.root).name}: the hidden cases are drawn from it "
             "(keep it private; git ignores it)")
    for assignment in assignments:
        for notebook in release_assignment(course, assignment):
            echo(f"released {describe_release(notebook)}")
