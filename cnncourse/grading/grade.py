"""Grade a whole class: every ``submitted/<student>/<assignment>/``, in parallel if asked.

Each submission is graded by :func:`~cnncourse.grading.autograde.autograde_submission` in
its own sandbox and process, started from a snapshot of the gradebook; this process alone
writes the results into the course (gradebook, ``autograded/``, ``feedback/``, logs) as
they arrive. A submission's grade therefore does not depend on the others or on
``--workers``, and one that crashes, hangs or is not a notebook cannot stop the rest.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat

from cnncourse.grading.autograde import (
    NO_SANDBOX,
    SubmissionJob,
    SubmissionResult,
    autograde_submission,
    stop_workers,
)
from cnncourse.grading.cells import test_cells
from cnncourse.grading.course import Course, GradingError, UsageError, display
from cnncourse.grading.gradebook import read_scores, record_result, snapshot
from cnncourse.grading.ledger import (
    Ledger,
    Settings,
    assignment_digest,
    grade_key,
    grader_fingerprint,
)
from cnncourse.grading.report import ClassReport, build_report, format_table, write_reports
from cnncourse.grading.sandbox import availability
from cnncourse.grading.secret import course_secret


@dataclass
class GradeRun:
    assignment: str
    results: dict[str, SubmissionResult]
    scores: dict[str, dict[str, tuple[float, float]]]  # student -> grade id -> (score, max)
    report: ClassReport
    files: list[Path]


def test_ids_and_max(course: Course, assignment: str) -> tuple[list[str], float]:
    """The test cells' grade ids in notebook order, and the assignment's total points."""
    ids, total = [], 0.0
    for path in course.source_notebooks(assignment):
        for cell in test_cells(nbformat.read(path, as_version=4)):
            ids.append(cell.metadata["nbgrader"]["grade_id"])
            total += float(cell.metadata["nbgrader"].get("points", 0))
    return ids, total


def check_gradable(course: Course, assignment: str) -> list[str]:
    """The students to grade; :class:`UsageError` if the assignment cannot be graded yet."""
    if not course.released(assignment):
        raise UsageError(
            f"'{assignment}' is not in the gradebook {display(course.gradebook_path)} yet: "
            f"release it first with: cnncourse release {assignment}"
        )
    students = course.submissions(assignment)
    if not students:
        raise UsageError(
            f"no submissions for '{assignment}': expected "
            f"{display(course.submitted_dir)}/<student>/{assignment}/{assignment}.ipynb"
        )
    return students


def publish(course: Course, assignment: str, result: SubmissionResult, logs: Path) -> None:
    """Move one result's autograded notebook, feedback and log into the course."""
    for folder, attribute in ((course.autograded_dir, "autograded_dir"),
                              (course.feedback_dir, "feedback_dir")):
        destination = folder / result.student / assignment
        if destination.exists():  # a stale one from an earlier run would mislead
            shutil.rmtree(destination)
        produced = getattr(result, attribute)
        if produced is not None:
            shutil.copytree(produced, destination)
            setattr(result, attribute, destination)
    logs.mkdir(parents=True, exist_ok=True)
    (logs / f"{result.student}.log").write_text(result.log, encoding="utf-8")


def _local_results(jobs: list[SubmissionJob], workers: int) -> Iterator[SubmissionResult]:
    """Each job's result as the local worker pool finishes it; Ctrl-C stops the workers."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(autograde_submission, job) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()
            stop_workers()


def grade_assignment(course: Course, assignment: str, workers: int = 1,
                     cell_timeout: int | None = None, echo: Callable[[str], None] = print,
                     feedback: bool = True, sandboxed: bool = True,
                     secret: str | None = None, force: bool = False,
                     scheduler: str | None = None) -> GradeRun:
    """Autograde every submission, write feedback and reports; never stops at a bad one.

    Hidden cases come from ``secret`` (default: the course's, made if missing). A student
    whose submission, assignment, grading code and settings are unchanged since their
    stored grade is skipped unless ``force`` (``ledger.py``). With ``scheduler`` (a Dask
    address) the submissions are graded by that cluster's workers (``cluster.py``)."""
    students = check_gradable(course, assignment)
    grader_fingerprint.cache_clear()  # the code as it is now, not as this process first saw it
    client = None
    if scheduler is not None:
        from cnncourse.grading import cluster

        client = cluster.connect(scheduler)
        try:
            machines = cluster.check_workers(client, sandboxed)
        except BaseException:
            client.close()
            raise
    elif sandboxed and (problem := availability()) is not None:
        raise UsageError(problem)
    secret = secret or course_secret(course.root)
    timeout = cell_timeout or course.settings.cell_timeout
    test_ids, max_score = test_ids_and_max(course, assignment)
    logs = course.reports_dir / assignment / "logs"
    threads = max(1, (os.cpu_count() or 1) // workers) if workers > 1 else None
    ledger = Ledger(course, assignment)
    settings = Settings(timeout, sandboxed, secret)
    source_hash = assignment_digest(course, assignment)
    keys = {s: grade_key(course, assignment, s, settings, source_hash) for s in students}
    stored = read_scores(course, assignment, students)
    todo = [s for s in students if force or not (ledger.is_current(s, keys[s]) and s in stored)]
    where = (f"{len(machines)} Dask worker(s) at {scheduler}" if client is not None
             else f"{workers} worker(s)")
    echo(f"Grading {assignment}: {len(todo)} submission(s) in "
         f"{display(course.submitted_dir)}, {where}, {timeout} s per cell"
         + ("" if sandboxed else ", WITHOUT a sandbox"))
    if len(todo) < len(students):
        echo(f"skipped {len(students) - len(todo)} already graded (same submission, "
             "assignment, grading code and settings; --force grades them again)")
    results: dict[str, SubmissionResult] = {}
    width = max(len(s) for s in students)
    stream: Iterator[SubmissionResult] | None = None
    try:
        # on Ctrl-C a worker may still be writing here: a file left behind must not turn
        # the interruption's report into a cleanup traceback
        with tempfile.TemporaryDirectory(prefix="cnncourse-grade-",
                                         ignore_cleanup_errors=True) as tmp:
            template = snapshot(course, Path(tmp) / "gradebook.db")
            jobs = [SubmissionJob(course, assignment, student, template,
                                  Path(tmp) / f"s{i:04d}", timeout, secret, threads, feedback,
                                  sandboxed) for i, student in enumerate(todo)]
            stream = (_local_results(jobs, workers) if client is None else
                      cluster.grade_on_cluster(client, jobs, Path(tmp) / "from-workers"))
            for done, result in enumerate(stream if jobs else [], start=1):
                if not sandboxed and NO_SANDBOX not in result.reasons:
                    result.reasons.append(NO_SANDBOX)
                publish(course, assignment, result, logs)
                record_result(course, assignment, result)  # the gradebook's only writer
                ledger.record(result.student, keys[result.student], result.reason)
                results[result.student] = result
                echo(f"[{done}/{len(jobs)}] {result.student.ljust(width)}  "
                     f"{result.auto_score:g}/{max_score:g}  {result.seconds:5.1f} s"
                     + (f"  {result.reason}" if result.reason else ""))
    except KeyboardInterrupt:
        echo(f"interrupted: {len(results)} of {len(todo)} graded and stored; run the same "
             "command again to grade the rest")
        raise
    except Exception as error:
        if client is None or not _lost_cluster(error):
            raise
        raise GradingError(f"lost the Dask cluster ({type(error).__name__}: {error}); "
                           f"{len(results)} of {len(todo)} graded and stored: run the same "
                           "command again to grade the rest") from None
    finally:
        if stream is not None:
            stream.close()  # stops the local workers, cancels what the cluster has left
        if client is not None:
            client.close()
    scores = read_scores(course, assignment, students)
    reasons = {s: results[s].reason if s in results else ledger.reason(s) for s in students}
    report = build_report(assignment, test_ids, scores, reasons)
    files = write_reports(report, course.reports_dir / assignment)
    return GradeRun(assignment, results, scores, report, files)


def _lost_cluster(error: Exception) -> bool:
    """Whether ``error`` means the scheduler (or every worker) went away."""
    from distributed.comm.core import CommClosedError

    return isinstance(error, CommClosedError | OSError | TimeoutError) or \
        type(error).__name__ in ("CancelledError", "FutureCancelledError")


HINTS = (  # (a phrase in some reason, what the instructor can do about it)
    ("timed out", "Timed out: if the code is right but slow, grade again with a larger "
                  "--timeout (it was {timeout} s per cell)."),
    ("not valid", "Unreadable notebook: ask the student to download it again from Jupyter "
                  "and resubmit, then grade again."),
    ("rename it", "Misnamed notebook: rename it as shown and grade again."),
    ("ended the run", "A notebook's code ended its run: the student's log is in {logs}/."),
    ("review by hand", "Flagged for review: read the lines named in the reason (rules are "
                       "read from the source; the points above do not change by themselves)."),
    ("graded without a sandbox", "Graded without a sandbox (--no-sandbox): the submissions' "
                                 "code ran with your rights; install bubblewrap and grade "
                                 "again to isolate them."),
    ("restored from the release", "Edited or deleted test cells were put back before "
                                  "grading: those scores count the original tests."),
)


def summary(run: GradeRun, course: Course, cell_timeout: int | None = None) -> str:
    """The score table, what to do about unusual submissions, and where everything went."""
    folder = course.reports_dir / run.assignment
    logs = display(folder / "logs")
    reasons = " ".join(row.reason for row in run.report.rows)
    timeout = cell_timeout or course.settings.cell_timeout
    hints = [hint.format(timeout=timeout, logs=logs) for phrase, hint in HINTS
             if phrase in reasons]
    return "\n".join([
        "",
        format_table(run.report),
        *([""] + hints if hints else []),
        "",
        f"grades:   {display(folder / 'grades.csv')}  (per part: grades_by_part.csv, "
        "plot: parts.png)",
        f"feedback: {display(course.feedback_dir)}/<student>/{run.assignment}/*.html",
        f"logs:     {logs}/<student>.log",
    ])
