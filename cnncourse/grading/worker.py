"""The grading worker: ONE submission in a private course folder, start to finish.

``SANDBOX`` is a throw-away course folder (``autograde.py`` builds it: the config, the
assignment's source, a copy of the gradebook, the one submission). The worker, a process
of its own, for each notebook:

1. reads the source for the rules (``policy.py``): a part whose graded function uses a
   forbidden function loses its points, side doors are flagged for review;
2. runs the submission in the OS sandbox (``sandbox.py``, ``session.py``; its runner forked
   from the fork server's zygote, ``zygote.py``, when there is one): its cells, then,
   part by part, the judge's questions to the probe (``judge.py``); the judge's verdicts
   are the grade;
3. runs nbgrader's ``autograde`` with the sandbox's outputs replayed instead of a kernel
   (``replay.py``): no student code runs outside the sandbox; then ``generate_feedback``;
4. writes everything to ``SANDBOX/result.json``. Only the parent writes the real
   gradebook.

``autograde.py`` starts the workers with :func:`run_worker`.
"""

from __future__ import annotations

import json
import os
import re
import resource
import time
from pathlib import Path

import nbformat
from nbformat.validator import normalize
from traitlets.config import Config

from cnncourse.checks._core import own_code_message
from cnncourse.grading import policy, zygote
from cnncourse.grading.cells import grade_id, part_of, test_cells
from cnncourse.grading.course import Course
from cnncourse.grading.judge import checker_names, group_judge
from cnncourse.grading.nbgrader_app import NbgraderRun, run_nbgrader
from cnncourse.grading.plan import Step, plan_steps
from cnncourse.grading.sandbox import Limits, runner_command
from cnncourse.grading.session import RunRecord, TestOutcome, ZygoteRun, run_notebook
from cnncourse.grading.view import build_view

RESULT_FILE = "result.json"
LOG_FILE = "worker.log"  # everything the worker prints
RECORD_FILE = "runs.json"  # the sandboxed runs, for ReplayOutputs


def autograde_config(record_file: Path) -> Config:
    """nbgrader's autograde with the sandbox's outputs in place of a kernel run."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute

    from cnncourse.grading.replay import ReplayOutputs

    config = Config()
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [ReplayOutputs if p is Execute else p
                                                for p in default]
    config.ReplayOutputs.record_file = str(record_file)
    return config


def read_submitted(path: Path) -> nbformat.NotebookNode:
    _, data = normalize(json.loads(path.read_text(encoding="utf-8")))
    return nbformat.reads(json.dumps(data), as_version=4)  # joins source lines


def _cells_record(steps: list[Step], run: RunRecord) -> list[dict]:
    """Per code cell of the submitted notebook (in its order): what ran and its outputs."""
    cells = []
    for index, step in enumerate(steps):
        if step.kind == "tests" or step.position is None:
            continue
        ran = run.cells.get(index)
        cells.append({"position": step.position, "grade_id": step.grade_id,
                      "source": step.source if step.kind == "student" else None,
                      "ran": ran is not None, "outputs": ran["outputs"] if ran else [],
                      "error": ran["error"] if ran else None})
    return cells


def _memory_note(run: RunRecord, limits: Limits) -> list[str]:
    """'ran out of memory' when a cell or a tested call did (MemoryError, torch's
    allocator failing at the limit)."""
    texts = [f"{(c.get('error') or {}).get('ename', '')} {(c.get('error') or {}).get('evalue', '')}"
             for c in run.cells.values()]
    texts += [o.message for o in run.tests.values()]
    if not any("MemoryError" in t or "can't allocate memory" in t or "ran out of memory" in t
               for t in texts):
        return []
    return [f"ran out of memory: the limit is {limits.describe_memory()} (a tensor too large, "
            "or a list that keeps growing)"]


def _disk_note(run: RunRecord, limits: Limits) -> list[str]:
    """'its folder is full' when a cell hit the size limit of the sandbox's folder."""
    if any("No space left on device" in str((c.get("error") or {}).get("evalue", ""))
           or "File too large" in str((c.get("error") or {}).get("evalue", ""))
           for c in run.cells.values()):
        return [f"wrote more than it may: its folder holds {limits.disk_mb} MB, one file "
                f"{limits.file_mb} MB (nothing it wrote is kept)"]
    return []


_COURSE_IMPORT = re.compile(r"No module named '(cnncourse[\w.]*)'")


def _course_imports(steps: list[Step], run: RunRecord, submitted: nbformat.NotebookNode
                    ) -> dict[str, str]:
    """part -> the course module its solution cell failed to import (in the sandbox, the
    reference is not there: the cell stops and its names are never defined)."""
    found = {}
    for index, step in enumerate(steps):
        error = (run.cells.get(index) or {}).get("error") or {}
        missing = _COURSE_IMPORT.search(str(error.get("evalue", "")))
        if step.kind != "student" or step.position is None or missing is None:
            continue
        gid = grade_id(submitted.cells[step.position - 1]) or ""
        if gid.endswith("_solution"):
            found[gid.removesuffix("_solution")] = missing.group(1)
    return found


def _name_the_reference(run: RunRecord, imports: dict[str, str]) -> None:
    """A part whose tests failed because its solution imported the course's reference says
    so, as a self-check would, instead of 'name ... is not defined'."""
    for gid, outcome in run.tests.items():
        module = imports.get(part_of(gid))
        name = re.match(r"NameError: name '(\w+)' is not defined", outcome.message)
        if module and name and not outcome.passed:
            run.tests[gid] = TestOutcome(False, own_code_message(
                name.group(1), f"it imports {module}, the course's reference code"),
                outcome.output)


def grade_notebook(course: Course, assignment: str, source_path: Path, submitted_path: Path,
                   limits: Limits, secret: str, sandboxed: bool, scratch: Path) -> dict:
    """One notebook: the rules, the sandboxed run with the judge; its record."""
    source = nbformat.read(source_path, as_version=4)
    submitted = read_submitted(submitted_path)
    steps = plan_steps(source, submitted)
    setup = [s.source for s in steps if s.kind == "setup"]
    checkers = checker_names(setup)
    modules = {checker.__module__ for checker in checkers.values()}
    import importlib

    rules = policy.rules_of(importlib.import_module(m) for m in modules)
    student_cells = [policy.Cell(s.position, s.source) for s in steps
                     if s.kind == "student" and s.position is not None]
    findings = policy.read_submission(student_cells, setup, rules)
    scratch.mkdir(parents=True, exist_ok=True)
    view = build_view(scratch / "view", setup).parent
    command, env = runner_command(view, submitted_path.parent, limits, scratch / "work",
                                  sandboxed=sandboxed)
    found, why_not = zygote.shared()
    fork = ZygoteRun(found, view, submitted_path.parent, why_not) if sandboxed else None
    run = run_notebook(steps, command, env, limits, group_judge(checkers, secret),
                       scratch / "runner.log", fork)
    _name_the_reference(run, _course_imports(steps, run, submitted))
    notes = run.notes + _memory_note(run, limits) + _disk_note(run, limits)
    flags = list(findings.flags)
    for gid, outcome in run.tests.items():
        # the guard in the sandbox names an honest use itself; a pass despite a forbidden
        # function in the source means the guard was got round: the source rule decides
        lost = findings.lost.get(part_of(gid))
        if lost and outcome.passed:
            run.tests[gid] = TestOutcome(False, lost, outcome.output)
            note = f"{part_of(gid)} scores 0: {lost}"
            if note not in notes:
                notes.append(note)
                flags.append(f"{part_of(gid)} passed in the sandbox although its code uses a "
                             "forbidden function (the guard was got round)")
    points = {grade_id(c): float(c.metadata["nbgrader"].get("points", 0))
              for c in test_cells(source)}
    grades = [{"notebook": source_path.stem, "grade_id": gid,
               "auto_score": points[gid] if run.tests.get(gid, TestOutcome(False)).passed
               else 0.0, "max_score": points[gid], "needs_manual_grade": False}
              for gid in points]
    return {"grades": grades, "tests": {gid: vars(o) for gid, o in run.tests.items()},
            "cells": _cells_record(steps, run), "notes": notes, "flags": flags,
            "timeouts": run.timeouts, "seconds": run.seconds, "log": run.log}


def recorded_grades(course: Course, assignment: str, student: str) -> dict:
    """What nbgrader stored for this submission: comments, timestamp."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url, course.settings.course_id) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return {"comments": [], "timestamp": None}
        comments = [{"notebook": nb.name, "grade_id": c.name, "auto_comment": c.auto_comment}
                    for nb in submission.notebooks for c in nb.comments]
        timestamp = submission.timestamp.isoformat() if submission.timestamp else None
        return {"comments": comments, "timestamp": timestamp}


def apply_grades(course: Course, assignment: str, student: str, grades: list[dict]) -> None:
    """The judge's scores into the sandbox's gradebook (nbgrader computed the same from the
    replayed outputs; this makes sure), so the feedback shows the points that count."""
    from nbgrader.api import Gradebook

    earned = {(g["notebook"], g["grade_id"]): g["auto_score"] for g in grades}
    with Gradebook(course.db_url, course.settings.course_id) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if (notebook.name, grade.name) in earned:
                    grade.auto_score = earned[(notebook.name, grade.name)]
        gradebook.db.commit()


def _cpu() -> float:
    """CPU seconds of this process so far."""
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime


def _summary(run: NbgraderRun | None) -> dict | None:
    return None if run is None else {"returncode": run.returncode, "log": run.log}


def grade_in_sandbox(sandbox: Path, assignment: str, student: str, limits: Limits,
                     secret: str, feedback: bool = True, sandboxed: bool = True) -> dict:
    """Every notebook's run, nbgrader autograde (replayed) and feedback; the record."""
    course = Course(sandbox.resolve())
    timings: dict[str, float] = {}
    started = time.perf_counter()
    cpu = _cpu()
    notebooks = {}
    for source_path in course.source_notebooks(assignment):
        submitted = course.submitted_dir / student / assignment / f"{source_path.stem}.ipynb"
        if submitted.is_file():
            notebooks[source_path.stem] = grade_notebook(
                course, assignment, source_path, submitted, limits, secret, sandboxed,
                sandbox / "scratch" / source_path.stem)
    timings["sandboxed run"] = time.perf_counter() - started
    timings["judge CPU"], cpu = _cpu() - cpu, _cpu()
    record_file = sandbox / RECORD_FILE
    record_file.write_text(json.dumps(notebooks), encoding="utf-8")
    common = ["--student", student, "--force", "--course-dir", str(course.root)]
    started = time.perf_counter()
    autograde = run_nbgrader(["autograde", assignment, *common], cwd=course.root,
                             config=autograde_config(record_file))
    timings["nbgrader autograde"] = time.perf_counter() - started
    timings["autograde CPU"], cpu = _cpu() - cpu, _cpu()
    grades = [g for nb in notebooks.values() for g in nb["grades"]]
    if autograde.ok:
        apply_grades(course, assignment, student, grades)
    feedback_run = None
    if autograde.ok and feedback:
        started = time.perf_counter()
        feedback_run = run_nbgrader(["generate_feedback", assignment, *common], cwd=course.root)
        timings["feedback"] = time.perf_counter() - started
        timings["feedback CPU"] = _cpu() - cpu
    return {
        "autograde": _summary(autograde), "feedback": _summary(feedback_run),
        **recorded_grades(course, assignment, student),
        "grades": grades,
        "outcomes": {name: nb["tests"] for name, nb in notebooks.items()},
        "notes": [n for nb in notebooks.values() for n in nb["notes"]],
        "flags": [f for nb in notebooks.values() for f in nb["flags"]],
        "timeouts": [t for nb in notebooks.values() for t in nb["timeouts"]],
        "runner_log": "\n".join(nb["log"] for nb in notebooks.values() if nb["log"]),
        "sandboxed": sandboxed, "timings": timings,
    }


def run_worker(sandbox: str, assignment: str, student: str, limits: dict, secret: str,
               feedback: bool, sandboxed: bool, environment: dict[str, str]) -> None:
    """Body of a worker process: its own session (so the parent can stop it and the
    sandbox it started at once), its output in ``LOG_FILE``, its result in ``RESULT_FILE``."""
    os.setsid()
    log = os.open(Path(sandbox) / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(environment)
    os.chdir(sandbox)
    result = grade_in_sandbox(Path(sandbox), assignment, student, Limits(**limits), secret,
                              feedback, sandboxed)
    # CPU seconds of this worker and of everything it waited for (the sandboxed runner)
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    result["timings"]["CPU"] = sum(u.ru_utime + u.ru_stime for u in used)
    (Path(sandbox) / RESULT_FILE).write_text(json.dumps(result, indent=1), encoding="utf-8")
