"""One submission, start to finish: :func:`autograde_submission` never raises.

1. look at the submitted files (:func:`inspect_submission`): no notebook, not JSON, not a
   notebook, locked or solution cells deleted or edited;
2. build a sandbox course (config, the assignment's source, a copy of the gradebook, this
   one submission) and run a worker process on it (``sandbox.run_worker``) with a
   wall-clock limit: nbgrader autograde and generate_feedback;
3. read what it recorded and explain anything unusual (timeouts, a dead kernel, output cut,
   tampering noticed by the clean re-run, parts where the notebook run and the clean re-run
   disagree); the clean re-run's verdict is the grade;
4. write the reasons into the feedback page (or, when nbgrader made none, a page of ours).

The result is written to the real course by the caller, one submission at a time
(``gradebook.py``), so parallel workers never share the sqlite gradebook.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.context
import os
import re
import shutil
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat.validator import normalize

from cnncourse.grading.cells import (
    cells_by_grade_id,
    grade_id,
    is_locked,
    is_solution_cell,
    is_test_cell,
    test_cells,
)
from cnncourse.grading.course import Course
from cnncourse.grading.execute import OUTPUT_LIMIT, TRUNCATED
from cnncourse.grading.feedback import finish_page, notice_page, part_results
from cnncourse.grading.nbgrader_app import ensure_venv_on_path
from cnncourse.grading.sandbox import LOG_FILE, RESULT_FILE, run_worker

# nbgrader import, kernel start and feedback, on top of the cells' own time limits
STARTUP_ALLOWANCE_S = 120
_IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")


@dataclass(frozen=True)
class SubmissionJob:
    """Everything needed to grade one student's submission."""

    course: Course
    assignment: str
    student: str
    template_gradebook: Path  # a private copy of the course gradebook to start from
    workdir: Path  # an empty folder that becomes the sandbox course
    cell_timeout: int
    threads: int | None = None  # OMP_NUM_THREADS for the kernel when workers share the CPU
    feedback: bool = True  # also run nbgrader generate_feedback

    @property
    def submitted(self) -> Path:
        return self.course.submitted_dir / self.student / self.assignment


@dataclass
class SubmissionResult:
    """What grading one submission produced (``grades`` as nbgrader recorded them)."""

    student: str
    graded: bool = False  # nbgrader autograded it (else every test cell scores 0)
    notebook_found: bool = True
    grades: list[dict] = field(default_factory=list)
    comments: list[dict] = field(default_factory=list)
    timestamp: str | None = None
    reasons: list[str] = field(default_factory=list)
    seconds: float = 0.0
    review: bool = False  # the code changed what the tests rely on: a human should look
    outcomes: dict = field(default_factory=dict)  # notebook -> grade id -> clean re-run outcome
    autograded_dir: Path | None = None
    feedback_dir: Path | None = None
    log: str = ""

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)

    @property
    def auto_score(self) -> float:
        return sum(g["auto_score"] or 0.0 for g in self.grades) if self.graded else 0.0


@dataclass
class Inspection:
    can_grade: bool
    notebook_found: bool
    reasons: list[str]
    code_cells: int = 0


def _read_notebook(path: Path) -> tuple[nbformat.NotebookNode | None, str | None]:
    """The notebook, or why it cannot be read (one short phrase).

    Runs in worker threads, so it must not touch the process-wide warning filters:
    normalizing first (cell ids added) keeps nbformat from warning at all.
    """
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return None, f"{path.name} is not valid JSON ({error.msg} at line {error.lineno})"
    try:
        _, data = normalize(data)
        nb = nbformat.reads(json.dumps(data), as_version=4)  # joins the sources' lines
        nbformat.validate(nb)
    except Exception as error:  # nbformat raises several kinds for a malformed notebook
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        return None, f"{path.name} is not a valid Jupyter notebook ({first_line[:120]})"
    return nb, None


def locked_cell_changes(released: nbformat.NotebookNode, submitted: nbformat.NotebookNode,
                        ) -> list[str]:
    """Reasons for locked or solution cells that were deleted or edited by the student."""
    ours = cells_by_grade_id(submitted)
    deleted_tests, deleted_locked, edited, deleted_solutions = [], [], [], []
    for cell in released.cells:
        gid = grade_id(cell)
        if gid is None:
            continue
        if gid not in ours:
            if is_test_cell(cell):
                deleted_tests.append(gid)
            elif is_locked(cell):
                deleted_locked.append(gid)
            elif is_solution_cell(cell):
                deleted_solutions.append(gid)
        elif is_locked(cell) and ours[gid][1].source != cell.source:
            edited.append(gid)
    reasons = []
    if deleted_tests:
        reasons.append(f"test cell deleted: restored from the release ({', '.join(deleted_tests)})")
    if edited:
        reasons.append(f"locked cell edited: restored from the release ({', '.join(edited)})")
    if deleted_locked:
        reasons.append(f"locked cell deleted: {', '.join(deleted_locked)} "
                       "(not restored; the cells after it may fail)")
    if deleted_solutions:
        reasons.append(f"solution cell deleted: {', '.join(deleted_solutions)}")
    return reasons


def duplicated_ids(nb: nbformat.NotebookNode) -> list[str]:
    """Grade ids that more than one cell carries (cells copied and pasted)."""
    seen: dict[str, int] = {}
    for cell in nb.cells:
        if (gid := grade_id(cell)) is not None:
            seen[gid] = seen.get(gid, 0) + 1
    return [gid for gid, count in seen.items() if count > 1]


def drop_duplicate_metadata(path: Path) -> None:
    """Keep the nbgrader metadata of the first cell of each grade id only (nbgrader stops
    on copies); the copies stay, as ordinary cells."""
    nb, _ = _read_notebook(path)
    if nb is None or not duplicated_ids(nb):
        return
    seen: set[str] = set()
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid is None:
            continue
        if gid in seen:
            cell.metadata.pop("nbgrader", None)
        seen.add(gid)
    nbformat.write(nb, path)


def inspect_submission(course: Course, assignment: str, student: str) -> Inspection:
    """Check the submitted files before spending a kernel on them."""
    folder = course.submitted_dir / student / assignment
    expected = course.notebook_names(assignment)
    present = sorted(p.stem for p in folder.glob("*.ipynb"))
    found = [name for name in expected if name in present]
    if not found:
        reason = "no notebook submitted"
        if present:
            reason += (f" (found {', '.join(p + '.ipynb' for p in present)}; "
                       f"rename it to {expected[0]}.ipynb and grade again)")
        return Inspection(can_grade=False, notebook_found=False, reasons=[reason])
    reasons = [f"no notebook {name}.ipynb submitted" for name in expected if name not in found]
    code_cells = 0
    for name in found:
        nb, problem = _read_notebook(folder / f"{name}.ipynb")
        if nb is None:
            return Inspection(can_grade=False, notebook_found=True, reasons=[problem])
        code_cells += sum(cell.cell_type == "code" for cell in nb.cells)
        copies = duplicated_ids(nb)
        if copies:
            reasons.append(f"cells pasted twice: the copies of {', '.join(copies)} were graded "
                           "as ordinary code")
        released = course.release_dir / assignment / f"{name}.ipynb"
        if released.is_file():
            reasons += locked_cell_changes(nbformat.read(released, as_version=4), nb)
    return Inspection(can_grade=True, notebook_found=True, reasons=reasons,
                      code_cells=code_cells)


def build_sandbox(job: SubmissionJob) -> Path:
    """A minimal course holding this one submission, next to nothing else."""
    root = job.workdir
    root.mkdir(parents=True, exist_ok=True)
    if job.course.config_file.is_file():
        shutil.copy(job.course.config_file, root / job.course.config_file.name)
    shutil.copytree(job.course.source_dir / job.assignment, root / "source" / job.assignment,
                    ignore=_IGNORED)
    shutil.copy(job.template_gradebook, root / "gradebook.db")
    copied = root / "submitted" / job.student / job.assignment
    shutil.copytree(job.submitted, copied, ignore=_IGNORED)
    for name in job.course.notebook_names(job.assignment):
        if (copied / f"{name}.ipynb").is_file():
            drop_duplicate_metadata(copied / f"{name}.ipynb")
    return root


_RUNNING: set[int] = set()  # process ids of the live workers, for stop_workers()


def stop_workers() -> None:
    """Kill every running worker and the kernel it started (the user pressed Ctrl-C)."""
    for pid in list(_RUNNING):
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _worker_context() -> multiprocessing.context.BaseContext:
    """Workers are forked from a server that pre-imported nbgrader (``warm.py``)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["cnncourse.grading.warm"])
    return context


def _run_worker(job: SubmissionJob, sandbox: Path, wall_limit: float) -> tuple[bool, str]:
    """Run one worker process on the sandbox; (finished in time, what it printed)."""
    ensure_venv_on_path()
    environment = {"PATH": os.environ["PATH"]}
    if job.threads:
        environment["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", str(job.threads))
    worker = _worker_context().Process(
        target=run_worker, name=f"grade-{job.student}",
        args=(str(sandbox), job.assignment, job.student, job.cell_timeout, job.feedback,
              environment, (str(job.course.root),), job.threads or os.cpu_count() or 1))
    worker.start()
    _RUNNING.add(worker.pid)
    try:
        worker.join(wall_limit)
        finished = not worker.is_alive()
        if not finished:
            try:  # the worker leads its own session: this also ends its kernel
                os.killpg(worker.pid, signal.SIGKILL)
            except ProcessLookupError:
                worker.kill()
            worker.join()
    finally:
        _RUNNING.discard(worker.pid)
    log = sandbox / LOG_FILE
    output = log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""
    if finished and worker.exitcode != 0:
        output += f"\nthe worker process ended with exit code {worker.exitcode}\n"
    return finished, output


def _label(position: int, cell: nbformat.NotebookNode | None) -> str:
    gid = grade_id(cell) if cell is not None else None
    return f"{position} ({gid})" if gid else str(position)


def timed_out_cells(nb: nbformat.NotebookNode, also: Iterable[int] = ()) -> list[str]:
    """``5 (add_test)`` for each cell (1-based position) stopped by the time limit, in the
    notebook run or (``also``: positions) in the clean re-run."""
    cells = nb.cells
    found = {position for position, cell in enumerate(cells, start=1)
             if any(out.get("ename") == "CellTimeoutError" for out in cell.get("outputs", []))}
    found |= {p for p in also if 1 <= p <= len(cells)}
    return [_label(p, cells[p - 1]) for p in sorted(found)]


def truncated_cells(nb: nbformat.NotebookNode) -> list[str]:
    """Cells whose output the grader cut (``execute.py``)."""
    return [_label(position, cell) for position, cell in enumerate(nb.cells, start=1)
            if any(TRUNCATED in str(out.get("text", "")) for out in cell.get("outputs", []))]


_EXCEPTION_LINE = re.compile(r"^\s*([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$")


def last_error(log: str) -> str:
    """The last informative ERROR line of an nbgrader log (its summary lines skipped), or
    the exception a logged traceback ends with."""
    errors = [line.split("]", 1)[1].strip() for line in log.splitlines() if "| ERROR]" in line]
    errors = [e for e in errors if e and not e.startswith(
        ("There was an error", "Please see", "Traceback"))]
    raised = [m.group(0).strip() for line in log.splitlines()
              if (m := _EXCEPTION_LINE.match(line))]
    if raised:
        return raised[-1]
    return errors[-1] if errors else "see the log"


def explain_failure(log: str) -> str:
    """One phrase for why nbgrader could not autograde a submission."""
    if "DeadKernelError" in log:
        return ("kernel died (the notebook crashed Python: it ran out of memory, "
                "called exit() or os._exit(), or hit a crash in compiled code)")
    if "UnresponsiveKernelError" in log or "kernel became unresponsive" in log:
        return "kernel stopped responding after a cell ran out of time"
    missing = re.search(r"KeyError: '([^']+)'", log)
    if missing:
        return (f"nbgrader could not run it: the cell {missing.group(1)} is missing or lost "
                "its nbgrader metadata (cells re-created or copied by hand)")
    return f"nbgrader could not grade it: {last_error(log)}"


def disagreements(notebook_grades: list[dict], trusted: dict) -> list[str]:
    """Reasons for test cells the notebook run and the clean re-run scored differently."""
    ran = {(g["notebook"], g["grade_id"]): g["auto_score"] or 0.0 for g in notebook_grades}
    more, less = [], []
    for grade in trusted["grades"]:
        key = (grade["notebook"], grade["grade_id"])
        if key not in ran or ran[key] == grade["auto_score"]:
            continue
        outcome = trusted["outcomes"].get(grade["notebook"], {}).get(grade["grade_id"], {})
        if ran[key] > grade["auto_score"]:
            why = outcome.get("message", "")[:160]
            more.append(f"{grade['grade_id']} ({why})" if why else grade["grade_id"])
        else:
            less.append(grade["grade_id"])
    reasons = []
    if more:  # the notebook run was fooled somehow: a human should look
        reasons.append("passed in the notebook but failed when its code was re-run apart from "
                       f"the tests, which counts: {', '.join(more)}")
    if less:
        reasons.append("failed in the notebook but passed when re-run apart from the rest of "
                       f"the notebook, which counts: {', '.join(less)}")
    return reasons


def _collect(job: SubmissionJob, sandbox: Path, result: SubmissionResult) -> None:
    """Fill ``result`` from the sandbox's result.json and output folders."""
    record = json.loads((sandbox / RESULT_FILE).read_text(encoding="utf-8"))
    autograde, feedback = record["autograde"], record["feedback"]
    trusted = record["trusted"]
    result.log += autograde["log"] + (feedback["log"] if feedback else "")
    result.log += "\ntimings: " + ", ".join(f"{k} {v:.1f} s" for k, v in
                                           record.get("timings", {}).items()) + "\n"
    result.comments = record["comments"]
    result.timestamp = record["timestamp"]
    result.grades = trusted["grades"]  # the clean re-run's verdict is the grade
    result.graded = bool(trusted["grades"])
    result.review = trusted["tampered"]
    result.outcomes = trusted["outcomes"]
    result.reasons += trusted["notes"]
    if not (trusted["network_isolated"] and record.get("kernel_isolated", True)):
        result.reasons.append("network not blocked by the operating system here (Python's "
                              "sockets were refused)")
    ran = autograde["returncode"] == 0
    if ran:
        result.autograded_dir = sandbox / "autograded" / job.student / job.assignment
        notebooks = [nbformat.read(p, as_version=4)
                     for p in sorted(result.autograded_dir.glob("*.ipynb"))]
    else:  # positions of the clean re-run still name the submitted notebook's cells
        notebooks = [nbformat.read(p, as_version=4)
                     for p in sorted(job.submitted.glob("*.ipynb"))][:1]
    for nb in notebooks:
        cells = timed_out_cells(nb, trusted.get("timeouts", []))
        if cells:
            where = "cell" if len(cells) == 1 else "cells"
            result.reasons.append(
                f"timed out after {job.cell_timeout} s in {where} {', '.join(cells)}")
        cut = truncated_cells(nb) if ran else []
        if cut:
            result.reasons.append(f"output cut at {OUTPUT_LIMIT // 1000} kB in cell(s) "
                                  f"{', '.join(cut)}")
    if not ran:
        result.reasons.append(explain_failure(autograde["log"])
                              + ("; the parts that passed when re-run on their own count"
                                 if result.auto_score else ""))
        return
    differ = disagreements(record["grades"], trusted)
    result.reasons += differ
    result.review |= any(r.startswith("passed in the notebook") for r in differ)
    if not job.feedback:
        return
    if feedback and feedback["returncode"] == 0:
        result.feedback_dir = sandbox / "feedback" / job.student / job.assignment
    else:
        result.reasons.append(f"no feedback: {last_error(feedback['log'] if feedback else '')}")


def autograde_submission(job: SubmissionJob) -> SubmissionResult:
    """Grade one submission in its own sandbox; problems end up in ``reasons``."""
    started = time.perf_counter()
    result = SubmissionResult(student=job.student)
    try:
        inspection = inspect_submission(job.course, job.assignment, job.student)
        result.notebook_found = inspection.notebook_found
        result.reasons += inspection.reasons
        if inspection.can_grade:
            sandbox = build_sandbox(job)
            wall_limit = job.cell_timeout * (inspection.code_cells + 1) + STARTUP_ALLOWANCE_S
            finished, output = _run_worker(job, sandbox, wall_limit)
            result.log = output
            if not finished:
                result.reasons.append(f"grading did not finish within {wall_limit:.0f} s "
                                      "and was stopped")
            elif not (sandbox / RESULT_FILE).is_file():
                last = output.strip().splitlines()[-1:] or ["no output"]
                result.reasons.append(f"the grading process failed: {last[0]}")
            else:
                _collect(job, sandbox, result)
    except Exception as error:  # a bug here must not stop the other students
        result.graded = False
        result.reasons.append(f"internal error while grading: {type(error).__name__}: {error}")
    if job.feedback:
        try:
            if result.feedback_dir is None:
                write_notice(job, result)
            else:  # nbgrader's page, with the parts and what the grader noticed on top
                parts = part_results(result.grades, result.outcomes)
                for page in result.feedback_dir.glob("*.html"):
                    page.write_text(finish_page(page.read_text(encoding="utf-8"),
                                                result.reasons, parts), encoding="utf-8")
        except Exception as error:  # noqa: BLE001 - the grade matters more than the page
            result.reasons.append(f"no feedback page: {type(error).__name__}: {error}")
    result.seconds = time.perf_counter() - started
    return result


def write_notice(job: SubmissionJob, result: SubmissionResult) -> None:
    """Feedback for a submission nbgrader made none for: the score and the reason."""
    grades = result.grades if result.graded else []
    if not grades:  # nothing could be run: every test cell scores 0
        for path in job.course.source_notebooks(job.assignment):
            for cell in test_cells(nbformat.read(path, as_version=4)):
                grades.append({"notebook": path.stem, "grade_id": grade_id(cell),
                               "auto_score": 0.0,
                               "max_score": float(cell.metadata["nbgrader"].get("points", 0))})
    folder = job.workdir / "notice"
    folder.mkdir(parents=True, exist_ok=True)
    name = (job.course.notebook_names(job.assignment) or [job.assignment])[0]
    (folder / f"{name}.html").write_text(
        notice_page(job.assignment, job.student, grades, result.reasons, result.outcomes),
        encoding="utf-8")
    result.feedback_dir = folder
