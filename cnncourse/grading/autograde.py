"""One submission, start to finish: :func:`autograde_submission` never raises.

1. look at the submitted files (:func:`inspect_submission`): no notebook, not JSON, not a
   notebook, locked or solution cells deleted or edited;
2. build a sandbox course (config, the assignment's source, a copy of the gradebook, this
   one submission) and run a worker process on it (``sandbox.run_worker``) with a
   wall-clock limit: nbgrader autograde and generate_feedback;
3. read what it recorded and explain anything unusual (timeouts, a dead kernel).

The result is written to the real course by the caller, one submission at a time
(``gradebook.py``), so parallel workers never share the sqlite gradebook.
"""

from __future__ import annotations

import json
import multiprocessing
import multiprocessing.context
import os
import shutil
import signal
import time
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
)
from cnncourse.grading.course import Course
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
    shutil.copytree(job.submitted, root / "submitted" / job.student / job.assignment,
                    ignore=_IGNORED)
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
              environment))
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


def timed_out_cells(nb: nbformat.NotebookNode) -> list[str]:
    """``5 (add_test)`` for each cell (1-based position) stopped by the time limit."""
    found = []
    for position, cell in enumerate(nb.cells, start=1):
        if any(out.get("ename") == "CellTimeoutError" for out in cell.get("outputs", [])):
            gid = grade_id(cell)
            found.append(f"{position} ({gid})" if gid else str(position))
    return found


def last_error(log: str) -> str:
    """The last informative ERROR line of an nbgrader log (its summary lines skipped)."""
    errors = [line.split("]", 1)[1].strip() for line in log.splitlines() if "| ERROR]" in line]
    errors = [e for e in errors if e and not e.startswith(("There was an error", "Please see"))]
    return errors[-1] if errors else "see the log"


def explain_failure(log: str) -> str:
    """One phrase for why nbgrader could not autograde a submission."""
    if "DeadKernelError" in log:
        return ("kernel died (the notebook crashed Python: it ran out of memory, "
                "called exit() or os._exit(), or hit a crash in compiled code)")
    if "UnresponsiveKernelError" in log or "kernel became unresponsive" in log:
        return "kernel stopped responding after a cell ran out of time"
    return f"nbgrader could not grade it: {last_error(log)}"


def _collect(job: SubmissionJob, sandbox: Path, result: SubmissionResult) -> None:
    """Fill ``result`` from the sandbox's result.json and output folders."""
    record = json.loads((sandbox / RESULT_FILE).read_text(encoding="utf-8"))
    autograde, feedback = record["autograde"], record["feedback"]
    result.log += autograde["log"] + (feedback["log"] if feedback else "")
    result.grades, result.comments = record["grades"], record["comments"]
    result.timestamp = record["timestamp"]
    if autograde["returncode"] != 0:
        result.reasons.append(explain_failure(autograde["log"]))
        return
    result.graded = True
    result.autograded_dir = sandbox / "autograded" / job.student / job.assignment
    for path in sorted(result.autograded_dir.glob("*.ipynb")):
        cells = timed_out_cells(nbformat.read(path, as_version=4))
        if cells:
            where = "cell" if len(cells) == 1 else "cells"
            result.reasons.append(
                f"timed out after {job.cell_timeout} s in {where} {', '.join(cells)}")
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
    result.seconds = time.perf_counter() - started
    return result
