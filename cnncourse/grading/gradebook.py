"""The course's sqlite gradebook, written by ONE process: the one running ``cnncourse grade``.

Workers grade in sandboxes that start from a :func:`snapshot` of the gradebook; the parent
copies each result in with :func:`record_result`, exactly as ``nbgrader autograde`` would
have stored it (``SaveAutoGrades``: auto scores and comments; a manual score given in
formgrader is kept and flagged for review). Scores are then read back from here, so
grades.csv always agrees with the gradebook.
"""

from __future__ import annotations

import sqlite3
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cnncourse.grading.autograde import SubmissionResult
from cnncourse.grading.course import Course


def snapshot(course: Course, destination: Path) -> Path:
    """A consistent copy of the gradebook (sqlite's backup API, safe while it is open)."""
    with sqlite3.connect(course.gradebook_path) as source, sqlite3.connect(destination) as copy:
        source.backup(copy)
    return destination


@contextmanager
def _gradebook(course: Course) -> Iterator:
    from nbgrader.api import Gradebook

    with warnings.catch_warnings():
        # sqlalchemy warns about nbgrader's own session handling on every new submission
        warnings.simplefilter("ignore")
        with Gradebook(course.db_url, course.settings.course_id) as gradebook:
            yield gradebook


def record_result(course: Course, assignment: str, result: SubmissionResult) -> None:
    """Store one graded submission; a submission nbgrader could not grade scores 0."""
    recorded = {(g["notebook"], g["grade_id"]): g for g in result.grades}
    comments = {(c["notebook"], c["grade_id"]): c for c in result.comments}
    with _gradebook(course) as gradebook:
        gradebook.update_or_create_student(result.student)
        extra = {"timestamp": result.timestamp} if result.timestamp else {}
        submission = gradebook.update_or_create_submission(assignment, result.student, **extra)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                found = recorded.get((notebook.name, grade.name))
                grade.auto_score = found["auto_score"] if result.graded and found else 0.0
                # a notebook that exists but could not be graded wants a human look
                ungraded = not result.graded and result.notebook_found
                grade.needs_manual_grade = (grade.manual_score is not None
                                            or grade.auto_score is None or ungraded
                                            or result.review)
            for comment in notebook.comments:
                found = comments.get((notebook.name, comment.name))
                comment.auto_comment = found["auto_comment"] if result.graded and found else None
        gradebook.db.commit()


def read_scores(course: Course, assignment: str, students: list[str],
                ) -> dict[str, dict[str, tuple[float, float]]]:
    """student -> grade id -> (score, max score), manual scores taking precedence."""
    from nbgrader.api import MissingEntry

    scores: dict[str, dict[str, tuple[float, float]]] = {}
    with _gradebook(course) as gradebook:
        for student in students:
            try:
                submission = gradebook.find_submission(assignment, student)
            except MissingEntry:
                continue
            scores[student] = {
                grade.name: (float(grade.score or 0.0), float(grade.max_score))
                for notebook in submission.notebooks for grade in notebook.grades
            }
    return scores
