"""Grading beyond one machine, on Dask distributed.

``cnncourse grade ASSIGNMENT --scheduler tcp://HOST:PORT`` sends each submission, as bytes,
to a Dask worker, which grades it exactly as the local path does (its own private course
folder, the OS sandbox, the judge, nbgrader, the feedback page: ``autograde_submission``)
and returns the result and its files as bytes. This process stays the gradebook's only
writer. What every submission shares (the course's settings, the assignment's source and
release, a snapshot of the gradebook) is sent once per run (``Client.scatter``).

Workers must run the same grading code: :func:`check_workers` refuses, in one line, a
worker whose ``cnncourse`` code, torch or nbgrader differs from this process's, or that
cannot sandbox. A worker lost mid-submission is Dask's to handle: the scheduler runs that
submission again elsewhere.
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from cnncourse.grading.autograde import SubmissionJob, SubmissionResult, autograde_submission
from cnncourse.grading.course import Course, UsageError
from cnncourse.grading.ledger import grader_fingerprint

_SKIPPED = (".ipynb_checkpoints", "__pycache__")


def pack(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder``, by relative path."""
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(s in p.relative_to(folder).parts for s in _SKIPPED)}


def unpack(files: dict[str, bytes], folder: Path) -> Path:
    """Write ``files`` under ``folder``; a path that would leave it is refused."""
    root = folder.resolve()
    for name, data in files.items():
        target = (root / name).resolve()
        if not target.is_relative_to(root):
            raise ValueError(f"refusing to write {name!r} outside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return folder


def identity() -> dict[str, Any]:
    """What a worker grades with (run on each worker by :func:`check_workers`)."""
    import nbgrader
    import torch

    import cnncourse
    from cnncourse.grading.sandbox import availability

    return {"cnncourse": cnncourse.__version__, "code": grader_fingerprint()[:12],
            "torch": torch.__version__, "nbgrader": nbgrader.__version__,
            "sandbox": availability()}


def connect(address: str) -> Any:
    """A Dask client for ``address``; one line saying what is wrong when there is none."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("grading on a cluster needs Dask: pip install 'distributed' (the "
                         "course's requirements.txt pins it)") from None
    try:
        return Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise UsageError(f"no Dask scheduler answers at {address} ({error}); start one with "
                         "'dask scheduler' and workers with 'dask worker ADDRESS' from the "
                         "course's environment") from None


def check_workers(client: Any, sandboxed: bool) -> list[str]:
    """The workers' addresses; :class:`UsageError` if there are none or one differs."""
    answers = client.run(identity, on_error="return")  # a worker leaving now is just absent
    workers = {a: w for a, w in answers.items() if isinstance(w, dict)}
    if not workers:
        raise UsageError("the Dask scheduler has no workers: start some with 'dask worker "
                         "ADDRESS' from the course's environment")
    here = identity()
    for address, theirs in sorted(workers.items()):
        for key in ("cnncourse", "code", "torch", "nbgrader"):
            if theirs.get(key) != here[key]:
                raise UsageError(
                    f"worker {address} grades with {key} {theirs.get(key)}, this machine with "
                    f"{here[key]}: install the same course environment there (no submission "
                    "was sent)")
        if sandboxed and theirs.get("sandbox"):
            raise UsageError(f"worker {address} cannot sandbox: {theirs['sandbox']}")
    return sorted(workers)


def shared_files(course: Course, assignment: str, gradebook: Path) -> dict[str, bytes]:
    """What every submission of one run needs besides its own files."""
    files = {f"source/{assignment}/{k}": v for k, v in
             pack(course.source_dir / assignment).items()}
    files.update({f"release/{assignment}/{k}": v for k, v in
                  pack(course.release_dir / assignment).items()})
    if course.config_file.is_file():
        files[course.config_file.name] = course.config_file.read_bytes()
    files["gradebook.db"] = gradebook.read_bytes()
    return files


def grade_packed(shared: dict[str, bytes], student: str, submission: dict[str, bytes],
                 settings: dict[str, Any]) -> dict[str, Any]:
    """On a worker: rebuild a course holding this one submission, grade it as the local
    path does, and return the result with its files (autograded notebook, feedback)."""
    # Dask starts its workers as daemon processes, which multiprocessing forbids to have
    # children; the grading worker must be one (its own session, killed as a whole)
    multiprocessing.current_process()._config["daemon"] = False  # noqa: SLF001
    with tempfile.TemporaryDirectory(prefix="cnncourse-dask-") as tmp:
        root = unpack(shared, Path(tmp) / "course")
        assignment = settings["assignment"]
        unpack(submission, root / "submitted" / student / assignment)
        course = Course(root)
        job = SubmissionJob(course, assignment, student, root / "gradebook.db",
                            Path(tmp) / "work", settings["cell_timeout"], settings["secret"],
                            settings.get("threads"), settings["feedback"],
                            settings["sandboxed"])
        result = autograde_submission(job)
        packed = {f.name: getattr(result, f.name) for f in fields(result)
                  if f.name not in ("autograded_dir", "feedback_dir")}
        packed["autograded"] = pack(result.autograded_dir) if result.autograded_dir else None
        packed["feedback"] = pack(result.feedback_dir) if result.feedback_dir else None
        return packed


def unpacked_result(packed: dict[str, Any], folder: Path) -> SubmissionResult:
    """A worker's answer as a local result whose files are under ``folder``."""
    names = {f.name for f in fields(SubmissionResult)} - {"autograded_dir", "feedback_dir"}
    result = SubmissionResult(**{k: v for k, v in packed.items() if k in names})
    for key, attribute in (("autograded", "autograded_dir"), ("feedback", "feedback_dir")):
        if packed.get(key) is not None:
            setattr(result, attribute, unpack(packed[key], folder / result.student / key))
    return result


def grade_on_cluster(client: Any, jobs: list[SubmissionJob], scratch: Path
                     ) -> Iterator[SubmissionResult]:
    """Each job's result, as workers finish them; Ctrl-C cancels what is left."""
    from distributed import as_completed

    first = jobs[0]
    shared = client.scatter(shared_files(first.course, first.assignment,
                                         first.template_gradebook), broadcast=True)
    settings = {"assignment": first.assignment, "cell_timeout": first.cell_timeout,
                "secret": first.secret, "threads": first.threads, "feedback": first.feedback,
                "sandboxed": first.sandboxed}
    futures = [client.submit(grade_packed, shared, job.student, pack(job.submitted), settings,
                             key=f"grade-{job.assignment}-{job.student}", pure=False,
                             retries=1)
               for job in jobs]
    try:
        for future in as_completed(futures, loop=client.loop):
            packed = future.result()
            yield unpacked_result(packed, scratch)
    finally:
        client.cancel([f for f in futures if not f.done()])
        shutil.rmtree(scratch, ignore_errors=True)


def result_fields(result: SubmissionResult) -> dict[str, Any]:
    """The plain fields of a result (for tests comparing local and cluster grading)."""
    data = asdict(result)
    for key in ("autograded_dir", "feedback_dir", "seconds", "log"):
        data.pop(key, None)
    return data
