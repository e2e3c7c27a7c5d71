"""What the sandbox runs for one notebook: the student's cells, and where the judge checks.

:func:`plan_steps` lines the submitted notebook up with the SOURCE notebook: locked code
cells (the setup) come from the source, every other code cell is the student's code, in
the student's order, and each run of test cells of one part becomes one *test group*,
where the sandbox stops and the judge checks that part. Test cells are never run in the
sandbox: the judge reads them (``judge.py``). Locked cells the student deleted go first,
test cells the student deleted go last.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nbformat

from cnncourse.grading.cells import cells_by_grade_id, grade_id, is_locked, is_test_cell, part_of


@dataclass(frozen=True)
class Step:
    kind: str  # "setup" (locked, from the source), "student", or "tests"
    source: str = ""
    position: int | None = None  # 1-based position in the submitted notebook (None: restored)
    grade_id: str | None = None  # of a setup cell
    tests: tuple[tuple[str, str, int | None], ...] = field(default=())  # (grade id, source,
    #                                                      position) of each test cell


def plan_steps(source: nbformat.NotebookNode, submitted: nbformat.NotebookNode) -> list[Step]:
    trusted = cells_by_grade_id(source)
    test_ids = {gid for gid, (_, cell) in trusted.items() if is_test_cell(cell)}
    locked = {gid for gid, (_, cell) in trusted.items()
              if is_locked(cell) and cell.cell_type == "code" and gid not in test_ids}
    cells: list[tuple[str, str, int | None, str | None]] = []  # (kind, source, position, gid)
    seen: set[str] = set()
    for position, cell in enumerate(submitted.cells, start=1):
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        if gid in (test_ids | locked) and gid not in seen:
            seen.add(gid)
            kind = "test" if gid in test_ids else "setup"
            cells.append((kind, trusted[gid][1].source, position, gid))
        else:  # the student's own, duplicated cells and cells without metadata included
            cells.append(("student", cell.source, position, None))
    missing_setup = [("setup", trusted[g][1].source, None, g)
                     for g in sorted(locked - seen, key=lambda g: trusted[g][0])]
    missing_tests = [("test", trusted[g][1].source, None, g)
                     for g in sorted(test_ids - seen, key=lambda g: trusted[g][0])]
    steps: list[Step] = []
    for kind, text, position, gid in missing_setup + cells + missing_tests:
        if kind != "test":
            steps.append(Step(kind, text, position, gid))
            continue
        last = steps[-1] if steps else None
        if last and last.kind == "tests" and part_of(last.tests[-1][0]) == part_of(gid):
            steps[-1] = Step("tests", tests=last.tests + ((gid, text, position),))
        else:
            steps.append(Step("tests", tests=((gid, text, position),)))
    return steps


def test_ids(steps: list[Step]) -> list[str]:
    return [gid for step in steps if step.kind == "tests" for gid, _, _ in step.tests]
