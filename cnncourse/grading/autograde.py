"""One submission, start to finish: :func:`autograde_submission` never raises.

1. look at the submitted files (:func:`inspect_submission`): no notebook (or one under
   another name), not JSON, not a notebook, locked or solution cells deleted or edited;
2. build a private course folder (config, the assignment's source, a copy of the
   gradebook, this one submission) and run a worker process on it (``worker.run_worker``)
   with a wall-clock limit: the sandboxed run with the judge, nbgrader autograde (replayed)
   and generate_feedback. A worker that dies for a reason outside the submission (the
   machine, not the notebook) is started again once;
3. read what it recorded and explain anything unusual (time-outs, memory, output cut, a
   run the notebook's code ended, rules broken, side doors flagged for review); the
   judge's verdict is the grade;
4. write the reasons into the feedback page (or, when nbgrader made none, a page of ours),
   with a policy that forbids every script.

The result is written to the real course by the caller, one submission at a time
(``gradebook.py``), so parallel workers never share the sqlite gradebook.
"""

from __future__ import annotations

import copy
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
from cnncourse.grading.feedback import finish_page, notice_page, part_results
from cnncourse.grading.inert import inert_page
from cnncourse.grading.nbgrader_app import ensure_venv_on_path
from cnncourse.grading.sandbox import Limits
from cnncourse.grading.worker import LOG_FILE, RESULT_FILE, run_worker
from cnncourse.probe.outputs import OUTPUT_LIMIT, TRUNCATED

# nbgrader import, the sandbox's start and feedback, on top of the cells' own time limits
STARTUP_ALLOWANCE_S = 120
RETRIES = 1  # a worker that died for a reason outside the submission is started again
NO_SANDBOX = "graded without a sandbox"
_IGNORED = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")


@dataclass(frozen=True)
class SubmissionJob:
    """Everything needed to grade one student's submission."""

    course: Course
    assignment: str
    student: str
    template_gradebook: Path  # a private copy of the course gradebook to start from
    workdir: Path  # an empty folder that becomes the private course
    cell_timeout: int
    secret: str  # where the hidden cases are drawn from
    threads: int | None = None  # OMP_NUM_THREADS for the worker when workers share the CPU
    feedback: bool = True  # also run nbgrader generate_feedback
    sandboxed: bool = True  # run the submission in the OS sandbox
    renamed: str | None = None  # the notebook submitted under another name, if so

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
    review: bool = False  # flagged: a human should look at the code
    outcomes: dict = field(default_factory=dict)  # notebook -> grade id -> the judge's verdict
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
    renamed: str | None = None  # the file to grade under the expected name


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


def repair_metadata(path: Path, source: nbformat.NotebookNode) -> None:
    """Give nbgrader a notebook it can read: each grade id's first cell gets the release's
    nbgrader metadata back (edited points, locks or checksums undone); copies, unknown
    grade ids (a zero-width space, an extra 'graded' cell) and malformed metadata become
    ordinary cells. What the student wrote in each cell stays."""
    nb, _ = _read_notebook(path)
    if nb is None:
        return
    trusted = {gid: cell.metadata["nbgrader"] for gid, (_, cell) in
               cells_by_grade_id(source).items()}
    seen: set[str] = set()
    changed = False
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is None:
            continue
        gid = meta.get("grade_id") if isinstance(meta, dict) else None
        if gid in trusted and gid not in seen:
            seen.add(gid)
            if meta != trusted[gid]:
                cell.metadata["nbgrader"] = copy.deepcopy(trusted[gid])
                changed = True
        else:
            cell.metadata.pop("nbgrader")
            changed = True
    if changed:
        nbformat.write(nb, path)


def inspect_submission(course: Course, assignment: str, student: str) -> Inspection:
    """Check the submitted files before spending a kernel on them."""
    folder = course.submitted_dir / student / assignment
    expected = course.notebook_names(assignment)
    present = sorted(p.stem for p in folder.glob("*.ipynb"))
    found = [name for name in expected if name in present]
    renamed = None
    if not found and len(present) == 1 and len(expected) == 1:
        renamed, found = present[0], expected  # the one notebook, under another name
    if not found:
        reason = "no notebook submitted"
        if present:
            reason += (f" (found {', '.join(p + '.ipynb' for p in present)}; "
                       f"rename it to {expected[0]}.ipynb and grade again)")
        return Inspection(can_grade=False, notebook_found=False, reasons=[reason])
    reasons = [f"no notebook {name}.ipynb submitted" for name in expected if name not in found]
    if renamed:
        reasons.append(f"graded {renamed}.ipynb as {expected[0]}.ipynb (the notebook was "
                       "renamed; submit it under that name)")
    code_cells = 0
    for name in found:
        nb, problem = _read_notebook(folder / f"{renamed or name}.ipynb")
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
                      code_cells=code_cells, renamed=renamed)


def build_sandbox(job: SubmissionJob, renamed: str | None = None) -> Path:
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
    if renamed:
        expected = job.course.notebook_names(job.assignment)[0]
        (copied / f"{renamed}.ipynb").rename(copied / f"{expected}.ipynb")
    for name in job.course.notebook_names(job.assignment):
        if (copied / f"{name}.ipynb").is_file():
            released = job.course.release_dir / job.assignment / f"{name}.ipynb"
            reference = released if released.is_file() else \
                job.course.source_dir / job.assignment / f"{name}.ipynb"
            repair_metadata(copied / f"{name}.ipynb", nbformat.read(reference, as_version=4))
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


def _run_worker(job: SubmissionJob, sandbox: Path, wall_limit: float) -> tuple[bool, str, int]:
    """Run one worker process on the private course; (finished in time, what it printed,
    its exit code)."""
    ensure_venv_on_path()
    environment = {"PATH": os.environ["PATH"]}
    if job.threads:
        environment["OMP_NUM_THREADS"] = os.environ.get("OMP_NUM_THREADS", str(job.threads))
    limits = Limits(cell_timeout=job.cell_timeout)
    worker = _worker_context().Process(
        target=run_worker, name=f"grade-{job.student}",
        args=(str(sandbox), job.assignment, job.student, vars(limits), job.secret,
              job.feedback, job.sandboxed, environment))
    worker.start()
    _RUNNING.add(worker.pid)
    try:
        worker.join(wall_limit)
        finished = not worker.is_alive()
        if not finished:
            try:  # the worker leads its own session: this also ends its sandbox
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
    return finished, output, worker.exitcode or 0


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


def _collect(job: SubmissionJob, sandbox: Path, result: SubmissionResult) -> None:
    """Fill ``result`` from the private course's result.json and output folders."""
    record = json.loads((sandbox / RESULT_FILE).read_text(encoding="utf-8"))
    autograde, feedback = record["autograde"], record["feedback"]
    result.log += record.get("runner_log", "") + autograde["log"] + (
        feedback["log"] if feedback else "")
    result.log += "\ntimings: " + ", ".join(f"{k} {v:.1f} s" for k, v in
                                           record.get("timings", {}).items()) + "\n"
    result.comments = record["comments"]
    result.timestamp = record["timestamp"]
    result.grades = record["grades"]  # the judge's verdicts are the grade
    result.graded = bool(record["grades"])
    result.outcomes = record["outcomes"]
    result.reasons += record["notes"]
    if record["flags"]:
        result.review = True
        more = f" and {len(record['flags']) - 4} more" if len(record["flags"]) > 4 else ""
        result.reasons.append("review by hand: " + "; ".join(record["flags"][:4]) + more)
    ran = autograde["returncode"] == 0
    if ran:
        result.autograded_dir = sandbox / "autograded" / job.student / job.assignment
        notebooks = [nbformat.read(p, as_version=4)
                     for p in sorted(result.autograded_dir.glob("*.ipynb"))]
    else:  # positions still name the submitted notebook's cells
        notebooks = [nbformat.read(p, as_version=4)
                     for p in sorted((sandbox / "submitted" / job.student / job.assignment
                                      ).glob("*.ipynb"))][:1]
    for nb in notebooks:
        cells = timed_out_cells(nb, record.get("timeouts", []))
        if cells:
            where = "cell" if len(cells) == 1 else "cells"
            result.reasons.append(
                f"timed out after {job.cell_timeout} s in {where} {', '.join(cells)}")
        cut = truncated_cells(nb) if ran else []
        if cut:
            result.reasons.append(f"output cut at {OUTPUT_LIMIT // 1000} kB in cell(s) "
                                  f"{', '.join(cut)}")
    if not ran:
        missing = re.search(r"KeyError: '([^']+)'", autograde["log"])
        result.reasons.append(
            f"nbgrader could not record it: the cell {missing.group(1)} is missing or lost its "
            "nbgrader metadata (cells re-created or copied by hand); the points shown are the "
            "grader's" if missing else f"nbgrader could not record it: "
                                       f"{last_error(autograde['log'])}")
        return
    if not job.feedback:
        return
    if feedback and feedback["returncode"] == 0:
        result.feedback_dir = sandbox / "feedback" / job.student / job.assignment
    else:
        result.reasons.append(f"no feedback: {last_error(feedback['log'] if feedback else '')}")


def _grade_once(job: SubmissionJob, inspection: Inspection, result: SubmissionResult
                ) -> bool:
    """One worker run; False when it died for a reason outside the submission (it is
    then worth running again)."""
    if job.workdir.exists():
        shutil.rmtree(job.workdir)
    sandbox = build_sandbox(job, inspection.renamed)
    wall_limit = job.cell_timeout * (inspection.code_cells + 1) + STARTUP_ALLOWANCE_S
    finished, output, exitcode = _run_worker(job, sandbox, wall_limit)
    result.log = output
    if not finished:
        result.reasons.append(f"grading did not finish within {wall_limit:.0f} s and was "
                              "stopped")
        return True
    if not (sandbox / RESULT_FILE).is_file():
        return False
    _collect(job, sandbox, result)
    return True


def autograde_submission(job: SubmissionJob) -> SubmissionResult:
    """Grade one submission in its own sandbox; problems end up in ``reasons``."""
    started = time.perf_counter()
    result = SubmissionResult(student=job.student)
    try:
        inspection = inspect_submission(job.course, job.assignment, job.student)
        result.notebook_found = inspection.notebook_found
        result.reasons += inspection.reasons
        if inspection.can_grade:
            for attempt in range(RETRIES + 1):
                if _grade_once(job, inspection, result):
                    break
                if attempt == RETRIES:  # it failed again: say how, with the log's tail
                    tail = " | ".join(result.log.strip().splitlines()[-3:]) or "no output"
                    result.reasons.append(f"the grading process failed twice (not the "
                                          f"notebook's fault; log: {tail[-400:]})")
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
                    page.write_text(inert_page(finish_page(page.read_text(encoding="utf-8"),
                                                           result.reasons, parts)),
                                    encoding="utf-8")
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
    (folder / f"{name}.html").write_text(inert_page(
        notice_page(job.assignment, job.student, grades, result.reasons, result.outcomes)),
        encoding="utf-8")
    result.feedback_dir = folder
