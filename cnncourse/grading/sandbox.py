"""The grading worker: nbgrader autograde + feedback for ONE student in a private course.

``SANDBOX`` is a throw-away course folder (``autograde.py`` builds it: the config, the
assignment's source, a copy of the gradebook, the one submission). The worker, a process
of its own, runs the real ``nbgrader autograde`` and ``nbgrader generate_feedback`` there
and writes what the gradebook recorded to ``SANDBOX/result.json``: a crash or hang of one
submission cannot touch the others, and only the parent writes the real gradebook.

``autograde.py`` starts the workers with :func:`run_worker`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from traitlets.config import Config

from cnncourse.grading.course import Course
from cnncourse.grading.nbgrader_app import NbgraderRun, run_nbgrader

RESULT_FILE = "result.json"
LOG_FILE = "worker.log"  # everything the worker and its kernel print


def timeout_config(seconds: int) -> Config:
    """Per-cell time limit, and a timeout error that tells the student what happened."""
    message = (
        f"this cell ran for more than {seconds} s and was stopped. Look for a loop that "
        "never ends, or for code far slower than it needs to be."
    )
    config = Config()
    config.Execute.timeout = seconds
    config.Execute.error_on_timeout = {
        "ename": "CellTimeoutError",
        "evalue": message,
        "traceback": [f"CellTimeoutError: {message}"],
    }
    return config


def recorded_grades(course: Course, assignment: str, student: str) -> dict:
    """What nbgrader stored for this submission: auto scores, comments, timestamp."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.db_url, course.settings.course_id) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return {"grades": [], "comments": [], "timestamp": None}
        grades, comments = [], []
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grades.append({
                    "notebook": notebook.name, "grade_id": grade.name,
                    "auto_score": grade.auto_score, "max_score": grade.max_score,
                    "needs_manual_grade": grade.needs_manual_grade,
                })
            for comment in notebook.comments:
                comments.append({"notebook": notebook.name, "grade_id": comment.name,
                                 "auto_comment": comment.auto_comment})
        timestamp = submission.timestamp.isoformat() if submission.timestamp else None
        return {"grades": grades, "comments": comments, "timestamp": timestamp}


def _summary(run: NbgraderRun | None) -> dict | None:
    return None if run is None else {"returncode": run.returncode, "log": run.log}


def grade_in_sandbox(sandbox: Path, assignment: str, student: str, cell_timeout: int,
                     feedback: bool = True) -> dict:
    """Autograde, then (if that worked and is wanted) generate feedback; the result record."""
    course = Course(sandbox.resolve())
    common = ["--student", student, "--force", "--course-dir", str(course.root)]
    autograde = run_nbgrader(["autograde", assignment, *common], cwd=course.root,
                             config=timeout_config(cell_timeout))
    feedback_run = None
    if autograde.ok and feedback:
        feedback_run = run_nbgrader(["generate_feedback", assignment, *common], cwd=course.root)
    return {
        "autograde": _summary(autograde),
        "feedback": _summary(feedback_run),
        **recorded_grades(course, assignment, student),
    }


def write_result(sandbox: Path, assignment: str, student: str, cell_timeout: int,
                 feedback: bool) -> None:
    result = grade_in_sandbox(sandbox, assignment, student, cell_timeout, feedback)
    (sandbox / RESULT_FILE).write_text(json.dumps(result, indent=1), encoding="utf-8")


def run_worker(sandbox: str, assignment: str, student: str, cell_timeout: int, feedback: bool,
               environment: dict[str, str]) -> None:
    """Body of a worker process: its own session (so the parent can stop it and the kernel
    it started at once), its output in ``LOG_FILE``, its result in ``RESULT_FILE``."""
    os.setsid()
    log = os.open(Path(sandbox) / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(environment)
    os.chdir(sandbox)
    write_result(Path(sandbox), assignment, student, cell_timeout, feedback)
