"""Prove an assignment grades as intended, through the real release + autograde path.

In a throw-away copy of the course, each assignment is released and three kinds of
submission are graded like any student's:

- ``source``: the release answered with the reference solutions: must score full marks;
- ``release``: the unedited student version: must score zero;
- each mutant in ``mutants/<assignment>/``: must score zero on exactly its ``loses`` test
  cells, full marks on all others, and one of those failures must carry its ``message``.
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cnncourse.grading.cells import cells_by_grade_id, grade_id, is_solution_cell, part_of
from cnncourse.grading.course import Course
from cnncourse.grading.feedback import strip_ansi
from cnncourse.grading.grade import GradeRun, grade_assignment
from cnncourse.grading.mutants import (
    Mutant,
    MutantError,
    apply_mutant,
    mutant_problems,
    parse_mutant,
)
from cnncourse.grading.release import release_assignment
from cnncourse.grading.solutions import remove_solution_fences

SOURCE, RELEASE = "source", "release"


def answered_release(source_nb: nbformat.NotebookNode, release_nb: nbformat.NotebookNode,
                     ) -> nbformat.NotebookNode:
    """The student version with every solution cell holding the reference answer."""
    answers = {grade_id(c): c.source for c in source_nb.cells if is_solution_cell(c)}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        if is_solution_cell(cell) and grade_id(cell) in answers:
            cell.source = remove_solution_fences(answers[grade_id(cell)])
    return nb


@dataclass
class Verdict:
    """One graded submission of ``verify`` and whether it behaved."""

    label: str
    passed: bool
    detail: str
    cell_scores: dict[str, tuple[float, float]] = field(default_factory=dict)


def _errors_of(notebook: Path | None, test_id: str) -> list[str]:
    """The error messages the test cell ``test_id`` printed when it was autograded."""
    if notebook is None or not notebook.is_file():
        return []
    cell = cells_by_grade_id(nbformat.read(notebook, as_version=4)).get(test_id)
    if cell is None:
        return []
    return [strip_ansi(f"{out.get('ename')}: {out.get('evalue')}")
            for out in cell[1].get("outputs", []) if out.get("output_type") == "error"]


def _lost(scores: dict[str, tuple[float, float]]) -> list[str]:
    return [gid for gid, (got, top) in scores.items() if got < top]


def judge_source(scores, reason: str, notebook: Path | None) -> tuple[bool, str]:
    lost = _lost(scores)
    if not lost and not reason:
        return True, "full marks"
    problems = [f"{gid} scored {scores[gid][0]:g}/{scores[gid][1]:g} "
                f"({'; '.join(_errors_of(notebook, gid)) or 'no error shown'})" for gid in lost]
    return False, "; ".join(problems + ([reason] if reason else []))


def judge_release(scores, reason: str) -> tuple[bool, str]:
    passing = [gid for gid, (got, _) in scores.items() if got > 0]
    if not passing:
        return True, "zero without an answer"
    return False, (f"{', '.join(passing)} give points to the unedited release: the test "
                   "passes without an answer" + (f" ({reason})" if reason else ""))


def judge_mutant(mutant: Mutant, scores, reason: str, notebook: Path | None) -> tuple[bool, str]:
    lost = set(_lost(scores))
    wanted = set(mutant.loses)
    problems = []
    kept = [gid for gid in mutant.loses if gid not in lost]
    partly = [gid for gid in mutant.loses if gid in lost and scores[gid][0] > 0]
    extra = sorted(lost - wanted)
    if kept:
        problems.append(f"kept the points of {', '.join(kept)} (the tests miss this mistake)")
    if partly:
        problems.append(f"only partly lost {', '.join(partly)}")
    if extra:
        problems.append(f"also lost {', '.join(extra)} (not in '# loses:')")
    if not problems:
        errors = [e for gid in mutant.loses for e in _errors_of(notebook, gid)]
        if not any(mutant.message in e for e in errors):
            got = errors[0][:160] if errors else "no error message"
            problems.append(f"fails, but not with '{mutant.message}' (got: {got})")
    if problems:
        return False, "; ".join(problems + ([reason] if reason else []))
    return True, f"loses {', '.join(mutant.loses)} with '{mutant.message}'"


def _copy_assignment(course: Course, scratch: Course, assignment: str) -> None:
    scratch.root.mkdir(parents=True, exist_ok=True)
    if course.config_file.is_file():
        shutil.copy(course.config_file, scratch.config_file)
    shutil.copytree(course.source_dir / assignment, scratch.source_dir / assignment)


def _submit(scratch: Course, assignment: str, student: str,
            notebooks: dict[str, nbformat.NotebookNode]) -> None:
    folder = scratch.submitted_dir / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    for name, nb in notebooks.items():
        nbformat.write(nb, folder / f"{name}.ipynb")


def one_per_part_first(mutants: list[Mutant], count: int | None) -> list[Mutant]:
    """``count`` mutants taken round-robin over the parts they replace, so that a sample
    covers as many parts as it can (all of them when ``count`` is None)."""
    if count is None or count >= len(mutants):
        return list(mutants)
    by_part: dict[str, list[Mutant]] = {}
    for mutant in mutants:
        by_part.setdefault(mutant.replaces, []).append(mutant)
    queues = list(by_part.values())
    chosen: list[Mutant] = []
    while len(chosen) < count:
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return chosen


def verify_assignment(course: Course, scratch: Course, assignment: str, workers: int,
                      cell_timeout: int | None, echo: Callable[[str], None],
                      mutants_wanted: int | None = None, sandboxed: bool = True
                      ) -> list[Verdict]:
    """Release, submit source / release / mutants, grade, and judge each one."""
    _copy_assignment(course, scratch, assignment)
    release_assignment(scratch, assignment)
    source = {p.stem: nbformat.read(p, as_version=4) for p in scratch.source_notebooks(assignment)}
    released = {name: nbformat.read(scratch.release_dir / assignment / f"{name}.ipynb",
                                    as_version=4) for name in source}
    answered = {name: answered_release(source[name], released[name]) for name in source}
    _submit(scratch, assignment, SOURCE, answered)
    _submit(scratch, assignment, RELEASE, released)

    verdicts: list[Verdict] = []
    mutants: dict[str, Mutant] = {}
    loaded = []
    for path in sorted((course.mutants_dir / assignment).glob("*.py")):
        try:  # one malformed file must not hide the verdicts on the others
            loaded.append(parse_mutant(path))
        except MutantError as error:
            verdicts.append(Verdict(path.stem, False, str(error)))
    chosen = one_per_part_first(loaded, mutants_wanted)
    if len(chosen) < len(loaded):
        echo(f"{assignment}: grading {len(chosen)} of its {len(loaded)} mutants (--mutants)")
    for mutant in chosen:
        home = [n for n, nb in source.items() if mutant.replaces in cells_by_grade_id(nb)]
        problems = mutant_problems(source[home[0]], mutant) if home else [
            f"replaces '{mutant.replaces}', which is no cell's grade_id"]
        if problems:
            verdicts.append(Verdict(mutant.name, False, "; ".join(problems)))
            continue
        student = f"mutant-{mutant.name}"
        _submit(scratch, assignment, student,
                {**answered, home[0]: apply_mutant(answered[home[0]], mutant)})
        mutants[student] = mutant

    # a fresh secret in the scratch course: every mutant must lose under any draw
    run = grade_assignment(scratch, assignment, workers=workers, cell_timeout=cell_timeout,
                           echo=echo, feedback=False,  # nobody reads it: save a second each
                           sandboxed=sandboxed)
    for student in [SOURCE, RELEASE, *mutants]:
        verdicts.append(_judge(run, scratch, assignment, student, mutants.get(student)))
    return verdicts


def _judge(run: GradeRun, scratch: Course, assignment: str, student: str,
           mutant: Mutant | None) -> Verdict:
    scores = run.scores.get(student, {})
    reason = run.results[student].reason
    graded = sorted((scratch.autograded_dir / student / assignment).glob("*.ipynb"))
    notebook = graded[0] if graded else None
    if student == SOURCE:
        passed, detail = judge_source(scores, reason, notebook)
    elif student == RELEASE:
        passed, detail = judge_release(scores, reason)
    else:
        passed, detail = judge_mutant(mutant, scores, reason, notebook)
    return Verdict(mutant.name if mutant else student, passed, detail, scores)


def format_verdicts(assignment: str, verdicts: list[Verdict]) -> str:
    """PASS/FAIL, label, points per part and in total, then why."""
    scored = [v for v in verdicts if v.cell_scores]
    parts = list(dict.fromkeys(part_of(gid) for v in scored for gid in v.cell_scores))

    def per_part(scores: dict[str, tuple[float, float]], index: int) -> list[str]:
        sums = [sum(s[index] for gid, s in scores.items() if part_of(gid) == p) for p in parts]
        return [f"{x:g}" for x in [*sums, sum(sums)]]

    header = ["", assignment, *parts, "total", ""]
    rows = []
    if scored:
        rows.append(["", "(max)", *per_part(scored[0].cell_scores, 1), ""])
    for v in verdicts:
        cells = per_part(v.cell_scores, 0) if v.cell_scores else ["-"] * (len(parts) + 1)
        rows.append(["PASS" if v.passed else "FAIL", v.label, *cells, v.detail])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False))
                     + "  " + r[-1] for r in [header, *rows]).rstrip()


def verify(course: Course, assignments: list[str], workers: int = 1,
           cell_timeout: int | None = None, echo: Callable[[str], None] = print,
           mutants: int | None = None, sandboxed: bool = True) -> bool:
    """Verify ``assignments`` (with at most ``mutants`` mutants each); print a table each;
    True when every line passes."""
    all_passed = True
    with tempfile.TemporaryDirectory(prefix="cnncourse-verify-") as tmp:
        for assignment in assignments:
            scratch = Course(Path(tmp) / assignment)
            verdicts = verify_assignment(course, scratch, assignment, workers, cell_timeout,
                                         echo, mutants, sandboxed)
            echo("")
            echo(format_verdicts(assignment, verdicts))
            echo("")
            all_passed &= all(v.passed for v in verdicts)
    return all_passed
