"""The grading worker: nbgrader autograde + feedback for ONE student in a private course.

``SANDBOX`` is a throw-away course folder (``autograde.py`` builds it: the config, the
assignment's source, a copy of the gradebook, the one submission). The worker, a process
of its own, first re-runs the submission's code apart from the tests (``trusted.py``:
that verdict is the grade), then runs the real ``nbgrader autograde`` there in a limited
kernel (``kernel.py``, ``execute.py``), puts the verdict into the sandbox's gradebook and
autograded notebook, runs ``nbgrader generate_feedback``, and writes everything to
``SANDBOX/result.json``: a crash or hang of one submission cannot touch the others, and
only the parent writes the real gradebook.

``autograde.py`` starts the workers with :func:`run_worker`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbformat.validator import normalize
from traitlets.config import Config

from cnncourse.grading.cells import grade_id, test_cells
from cnncourse.grading.course import Course
from cnncourse.grading.kernel import LIMITS_VARIABLE, kernelspec
from cnncourse.grading.nbgrader_app import NbgraderRun, run_nbgrader
from cnncourse.grading.trusted import Limits, TestOutcome, run_trusted, trusted_plan

RESULT_FILE = "result.json"
LOG_FILE = "worker.log"  # everything the worker and its kernel print


def execution_config(seconds: int, threads: int = 1, ipc_dir: Path | None = None) -> Config:
    """Per-cell time limit with a timeout error that tells the student what happened, the
    output cap (``execute.py``), and unix-socket transport when ``ipc_dir`` is given (the
    kernel can then leave the network, see ``kernel.py``)."""
    from nbgrader.converters.autograde import Autograde
    from nbgrader.preprocessors import Execute

    from cnncourse.grading.execute import LimitedExecute

    message = (
        f"this cell ran for more than {seconds} s and was stopped. Look for a loop that "
        "never ends, or for code far slower than it needs to be."
    )
    config = Config()
    for section in (config.Execute, config.LimitedExecute):
        section.timeout = seconds
        # nbclient fails the whole notebook when output lags 4 s behind a finished cell,
        # which a busy machine (a class graded in parallel) easily makes happen
        section.iopub_timeout = 60
        section.error_on_timeout = {
            "ename": "CellTimeoutError",
            "evalue": message,
            "traceback": [f"CellTimeoutError: {message}"],
        }
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    config.Autograde.autograde_preprocessors = [LimitedExecute if p is Execute else p
                                                for p in default]
    if ipc_dir is not None:
        config.KernelManager.transport = "ipc"
        # absolute: the kernel runs in the notebook's folder, nbgrader in the sandbox
        config.KernelManager.ip = str(ipc_dir / "kernel")
    return config


def prepare_kernel(sandbox: Path, limits: Limits, blocked: list[Path]) -> Path | None:
    """The ``python3`` kernelspec nbgrader will find first (``kernel.py``), and the folder
    for the kernel's unix sockets (None when its path would be too long for one)."""
    spec = sandbox / "jupyter" / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps(kernelspec(sys.executable)), encoding="utf-8")
    runtime = sandbox / "rt"
    runtime.mkdir(exist_ok=True)
    ipc = len(str(runtime)) + 60 < 100  # kernel-<uuid>-ipc-<port> must fit a socket path
    os.environ.update({
        "JUPYTER_PATH": str(sandbox / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str(runtime / "mpl"),
        LIMITS_VARIABLE: json.dumps({"limits": vars(limits), "isolate_network": ipc,
                                     "blocked": [str(p) for p in blocked]}),
    })
    os.environ.pop("JUPYTER_CONFIG_DIR", None)
    return runtime if ipc else None


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


def trusted_grading(course: Course, assignment: str, student: str, limits: Limits,
                    blocked: list[Path]) -> dict:
    """Re-run each notebook's code and tests where the student's code cannot reach the tests
    (``trusted.py``); per notebook, per test cell: points earned, with notes."""
    record: dict = {"grades": [], "outcomes": {}, "notes": [], "timeouts": [], "tampered": False,
                    "network_isolated": True, "seconds": 0.0}
    for source_path in course.source_notebooks(assignment):
        name = source_path.stem
        submitted_path = course.submitted_dir / student / assignment / f"{name}.ipynb"
        if not submitted_path.is_file():
            continue
        source = nbformat.read(source_path, as_version=4)
        _, data = normalize(json.loads(submitted_path.read_text(encoding="utf-8")))
        submitted = nbformat.reads(json.dumps(data), as_version=4)  # joins source lines
        workdir = course.root / "trusted" / name
        shutil.copytree(submitted_path.parent, workdir, dirs_exist_ok=True)
        verdict = run_trusted(trusted_plan(source, submitted), workdir, limits, blocked)
        record["notes"] += verdict.notes
        record["timeouts"] += verdict.timeouts
        record["tampered"] |= verdict.tampered
        record["network_isolated"] &= verdict.network_isolated
        record["seconds"] += verdict.seconds
        record["outcomes"][name] = {gid: vars(outcome) for gid, outcome in verdict.tests.items()}
        for cell in test_cells(source):
            gid, points = grade_id(cell), float(cell.metadata["nbgrader"].get("points", 0))
            passed = verdict.tests.get(gid, TestOutcome(False)).passed
            record["grades"].append({"notebook": name, "grade_id": gid,
                                     "auto_score": points if passed else 0.0,
                                     "max_score": points, "needs_manual_grade": False})
    return record


def apply_trusted(course: Course, assignment: str, student: str, trusted: dict) -> None:
    """Make the sandbox's gradebook and autograded notebook tell the clean re-run's verdict,
    so the feedback nbgrader renders shows the points and messages that count."""
    from nbgrader.api import Gradebook

    earned = {(g["notebook"], g["grade_id"]): g["auto_score"] for g in trusted["grades"]}
    with Gradebook(course.db_url, course.settings.course_id) as gradebook:
        submission = gradebook.find_submission(assignment, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if (notebook.name, grade.name) in earned:
                    grade.auto_score = earned[(notebook.name, grade.name)]
        gradebook.db.commit()
    for name, outcomes in trusted["outcomes"].items():
        path = course.autograded_dir / student / assignment / f"{name}.ipynb"
        if not path.is_file():
            continue
        nb = nbformat.read(path, as_version=4)
        show_outcomes(nb, outcomes)
        nbformat.write(nb, path)


def show_outcomes(nb: nbformat.NotebookNode, outcomes: dict[str, dict]) -> None:
    """Where the notebook run and the clean re-run disagree on a test cell, show the re-run's
    output and error (it is what was graded)."""
    for cell in test_cells(nb):
        outcome = outcomes.get(grade_id(cell))
        if outcome is None:
            continue
        failed_here = any(out.get("output_type") == "error" for out in cell.get("outputs", []))
        if failed_here == (not outcome["passed"]):
            continue
        outputs = []
        if outcome["output"]:
            outputs.append(nbformat.v4.new_output("stream", name="stdout",
                                                  text=outcome["output"]))
        if not outcome["passed"]:
            ename, _, evalue = outcome["message"].partition(": ")
            outputs.append(nbformat.v4.new_output(
                "error", ename=ename or "Error", evalue=evalue,
                traceback=[f"{ename}: {evalue}" if evalue else ename]))
        cell.outputs = outputs


def grade_in_sandbox(sandbox: Path, assignment: str, student: str, cell_timeout: int,
                     feedback: bool = True, blocked: tuple[str, ...] = (),
                     threads: int = 1) -> dict:
    """The clean re-run, nbgrader autograde, then (if wanted) feedback; the result record."""
    course = Course(sandbox.resolve())
    limits = Limits(cell_timeout=cell_timeout, threads=threads)
    no_go = [course.root.parent, *map(Path, blocked)]
    timings = {}
    started = time.perf_counter()
    # first, while this process has started no threads (the re-run forks from it)
    trusted = trusted_grading(course, assignment, student, limits, no_go)
    timings["clean re-run"] = time.perf_counter() - started
    ipc_dir = prepare_kernel(course.root, Limits(cell_timeout, threads=threads), no_go)
    common = ["--student", student, "--force", "--course-dir", str(course.root)]
    started = time.perf_counter()
    autograde = run_nbgrader(["autograde", assignment, *common], cwd=course.root,
                             config=execution_config(cell_timeout, threads, ipc_dir))
    timings["nbgrader autograde"] = time.perf_counter() - started
    notebook_grades = recorded_grades(course, assignment, student)
    if autograde.ok:
        apply_trusted(course, assignment, student, trusted)
    feedback_run = None
    if autograde.ok and feedback:
        started = time.perf_counter()
        feedback_run = run_nbgrader(["generate_feedback", assignment, *common], cwd=course.root)
        timings["feedback"] = time.perf_counter() - started
    return {
        "autograde": _summary(autograde),
        "feedback": _summary(feedback_run),
        **notebook_grades,
        "trusted": trusted,
        "timings": timings,
        "kernel_isolated": ipc_dir is not None,  # without unix sockets it keeps the network
    }


def write_result(sandbox: Path, assignment: str, student: str, cell_timeout: int,
                 feedback: bool, blocked: tuple[str, ...], threads: int) -> None:
    result = grade_in_sandbox(sandbox, assignment, student, cell_timeout, feedback, blocked,
                              threads)
    (sandbox / RESULT_FILE).write_text(json.dumps(result, indent=1), encoding="utf-8")


def run_worker(sandbox: str, assignment: str, student: str, cell_timeout: int, feedback: bool,
               environment: dict[str, str], blocked: tuple[str, ...] = (),
               threads: int = 1) -> None:
    """Body of a worker process: its own session (so the parent can stop it and the kernel
    it started at once), its output in ``LOG_FILE``, its result in ``RESULT_FILE``."""
    os.setsid()
    log = os.open(Path(sandbox) / LOG_FILE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.environ.update(environment)
    os.chdir(sandbox)
    write_result(Path(sandbox), assignment, student, cell_timeout, feedback, blocked, threads)
