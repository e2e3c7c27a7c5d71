"""Known-wrong answers ("mutants") that prove the tests catch real mistakes.

``<course>/mutants/<assignment>/<name>.py`` starts with header comments, then the code that
replaces the ENTIRE source of one solution cell::

    # mutant: off-by-one output size (forgets the +1)
    # replaces: output_size_solution
    # loses: output_size_test, output_size_test_hidden
    # message: expected 30, got 29
    def conv_output_size(n, kernel, stride=1, padding=0):
        return (n + 2 * padding - kernel) // stride

``replaces`` is the grade id of a solution cell, ``loses`` the grade ids of the test cells
that must score 0 (every other test cell keeps full marks), ``message`` a substring the
checker's error message must contain. ``cnncourse verify`` grades every mutant.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from pathlib import Path

from nbformat import NotebookNode

from cnncourse.grading.cells import cells_by_grade_id, is_solution_cell, is_test_cell

HEADER_KEYS = ("mutant", "replaces", "loses", "message")
_HEADER_LINE = re.compile(r"^#\s*([A-Za-z_]+)\s*:\s?(.*)$")


class MutantError(ValueError):
    """A mutant file that does not follow the header format, or does not fit its notebook."""


@dataclass(frozen=True)
class Mutant:
    name: str  # the file name without .py
    path: Path
    description: str
    replaces: str
    loses: tuple[str, ...]
    message: str
    code: str


def parse_mutant(path: Path) -> Mutant:
    """Read one mutant file; :class:`MutantError` names the file, the line and the fix."""
    lines = path.read_text(encoding="utf-8").splitlines()
    header: dict[str, str] = {}
    body_start = len(lines)
    for number, line in enumerate(lines):
        match = _HEADER_LINE.match(line)
        if match is None or match.group(1).lower() not in HEADER_KEYS:
            body_start = number
            break
        key, value = match.group(1).lower(), match.group(2).strip()
        if key in header:
            raise MutantError(f"{path}: line {number + 1}: '{key}' given twice")
        if not value:
            raise MutantError(f"{path}: line {number + 1}: '# {key}:' has no value")
        header[key] = value
    missing = [key for key in HEADER_KEYS if key not in header]
    if missing:
        found = ", ".join(header) or "none"
        raise MutantError(
            f"{path}: header lacks {', '.join('# ' + k + ':' for k in missing)} "
            f"(found: {found}); a mutant starts with the lines '# mutant: ...', "
            "'# replaces: <solution grade_id>', '# loses: <test grade_id>, ...', "
            "'# message: ...', then the code"
        )
    loses = tuple(item.strip() for item in header["loses"].split(",") if item.strip())
    if not loses:
        raise MutantError(f"{path}: '# loses:' names no test cell")
    code = "\n".join(lines[body_start:]).strip("\n")
    if not code.strip():
        raise MutantError(f"{path}: no code after the header (it replaces the whole cell)")
    return Mutant(
        name=path.stem, path=path, description=header["mutant"], replaces=header["replaces"],
        loses=loses, message=header["message"], code=code,
    )


def load_mutants(course_dir: Path | str, assignment: str) -> list[Mutant]:
    """Every ``mutants/<assignment>/*.py`` in the course folder, by name (none: ``[]``)."""
    folder = Path(course_dir) / "mutants" / assignment
    if not folder.is_dir():
        return []
    return [parse_mutant(path) for path in sorted(folder.glob("*.py"))]


def mutant_problems(nb: NotebookNode, mutant: Mutant) -> list[str]:
    """Why ``mutant`` does not fit ``nb`` (no such solution cell, unknown test cells)."""
    cells = cells_by_grade_id(nb)
    problems = []
    if mutant.replaces not in cells:
        problems.append(f"replaces '{mutant.replaces}', which is no cell's grade_id")
    elif not is_solution_cell(cells[mutant.replaces][1]):
        problems.append(f"replaces '{mutant.replaces}', which is not a solution cell")
    for gid in mutant.loses:
        if gid not in cells or not is_test_cell(cells[gid][1]):
            problems.append(f"loses '{gid}', which is no test cell's grade_id")
    return problems


def apply_mutant(nb: NotebookNode, mutant: Mutant) -> NotebookNode:
    """A copy of ``nb`` whose cell ``mutant.replaces`` holds the mutant's code."""
    mutated = copy.deepcopy(nb)
    cells = cells_by_grade_id(mutated)
    if mutant.replaces not in cells:
        raise MutantError(
            f"{mutant.path}: no cell has grade_id '{mutant.replaces}' "
            f"(grade ids in the notebook: {', '.join(cells) or 'none'})"
        )
    cell = cells[mutant.replaces][1]
    cell.source = mutant.code
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None
    return mutated
