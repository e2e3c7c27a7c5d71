"""The grading sandbox's main program: run a notebook's cells, then answer the judge.

``python -m cnncourse.probe.runner`` is started inside the sandbox (``cnncourse.grading.
sandbox``) with the judge at the other end of its stdin and stdout, which carry frames
(``wire.py``) and nothing else; or forked, already warm, by the sandbox's zygote
(``zygote.py``), which hands :func:`serve` a channel of the submission's own. It

1. reads the *plan*: the cells to run in order (the setup cells from the assignment's
   source, the student's cells as submitted) with, between them, the *test groups*: where
   the judge checks a part;
2. applies the limits (memory, file size, processes, threads) and runs each cell in an
   IPython shell, with a time limit, recording its outputs as a notebook would show them:
   text, images, the error; never HTML, scripts or anything a browser would run;
3. at a test group, forks: the child holds the notebook's objects and serves the judge's
   requests (``server.py``) until the judge is done or the group's time is up; a crash or
   a hang there costs that part only, and what it changed does not leak into later cells.

Every report is plain data. Nothing here decides a grade: a student's code can rewrite
this program as it runs, and can then only lie about its own answers, which the judge
compares against values it computes itself.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import resource
import shutil
import signal
import sys
import time
from typing import Any

from cnncourse.probe.outputs import Recorder, Stream

GRACE_S = 5.0
# Time limits count CPU seconds, so a busy machine (a class graded in parallel, other jobs)
# does not fail honest code; a cell that waits instead of computing (sleep, a blocked read)
# is stopped after this many times its limit in wall-clock time.
WALL_FACTOR = 4


class CellTimeoutError(BaseException):
    """A cell ran out of time (a BaseException: ``except Exception`` does not swallow it)."""


# --------------------------------------------------------------------------- the shell
class Notebook:
    """An IPython shell whose outputs go to the current cell's :class:`Recorder`."""

    def __init__(self, cell_timeout: float) -> None:
        from IPython.core.displayhook import DisplayHook
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell

        self.cell_timeout = cell_timeout
        self.recorder = Recorder()
        self.timeout_message = _describe(CellTimeoutError(), cell_timeout)
        notebook = self

        class Publisher(DisplayPublisher):
            def publish(self, data, metadata=None, source=None, *, transient=None,
                        update=False, **kwargs):
                notebook.recorder.rich("display_data", data)

            def clear_output(self, wait=False):
                notebook.recorder.outputs.clear()

        class Hook(DisplayHook):
            def write_output_prompt(self):
                return None

            def write_format_data(self, format_dict, md_dict=None):
                notebook.recorder.rich("execute_result", format_dict)

        self.shell = InteractiveShell.instance(colors="nocolor", autocall=0,
                                               history_length=0)
        self.shell.history_manager.enabled = False
        self.shell.display_pub = Publisher(shell=self.shell)
        self.shell.displayhook = Hook(shell=self.shell, cache_size=0)
        self.shell.display_trap.hook = self.shell.displayhook
        self.shell._showtraceback = self._record_error
        self.namespace = self.shell.user_ns

    def _record_error(self, etype, evalue, stb) -> None:
        text = "".join(str(x) for x in (evalue,))
        self.recorder.error(getattr(etype, "__name__", "Error"), text, [str(s) for s in stb])

    def _alarm(self, signum: int, frame: Any) -> None:
        raise CellTimeoutError(self.timeout_message)

    def run(self, source: str) -> dict:
        """Run one cell; its outputs and, if it failed, the error's name and message."""
        self.recorder = Recorder()
        sys.stdout = Stream(lambda: self.recorder, "stdout")
        sys.stderr = Stream(lambda: self.recorder, "stderr")
        sys.displayhook = self.shell.displayhook
        started = time.monotonic()
        for kind in (signal.SIGPROF, signal.SIGALRM):
            signal.signal(kind, self._alarm)
        signal.setitimer(signal.ITIMER_PROF, self.cell_timeout)  # CPU seconds
        signal.setitimer(signal.ITIMER_REAL, self.cell_timeout * WALL_FACTOR)
        try:
            result = self.shell.run_cell(source, store_history=False, silent=False)
            error = result.error_in_exec or result.error_before_exec
        except CellTimeoutError as raised:  # the alarm rang outside the cell's own code
            error = raised
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.setitimer(signal.ITIMER_REAL, 0)
        described = None
        if error is not None:
            described = {"ename": type(error).__name__, "evalue": _describe(error,
                                                                             self.cell_timeout)}
            if isinstance(error, CellTimeoutError) and not any(
                    o["output_type"] == "error" for o in self.recorder.outputs):
                self.recorder.error("CellTimeoutError", described["evalue"], [])
        return {"outputs": self.recorder.outputs, "error": described,
                "seconds": round(time.monotonic() - started, 3)}


def _describe(error: BaseException, cell_timeout: float) -> str:
    if isinstance(error, CellTimeoutError):
        return (f"this cell ran for more than {cell_timeout:g} s and was stopped. Look for a "
                "loop that never ends, or for code far slower than it needs to be.")
    try:
        return str(error)[:2000]
    except Exception:  # noqa: BLE001 - an exception whose __str__ fails
        return type(error).__name__


# --------------------------------------------------------------------------- limits
def apply_limits(limits: dict) -> None:
    """Address space, file size, processes, no core dumps; one thread for torch/OpenMP."""
    caps = ((resource.RLIMIT_AS, int(limits.get("memory_mb", 4096)) << 20),
            (resource.RLIMIT_FSIZE, int(limits.get("file_mb", 64)) << 20),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NPROC, int(limits.get("processes", 0)) or None))
    for kind, value in caps:
        if value is None:
            continue
        with contextlib.suppress(ValueError, OSError):
            _, hard = resource.getrlimit(kind)
            resource.setrlimit(kind, (value if hard == resource.RLIM_INFINITY
                                      else min(value, hard), hard))
    threads = str(int(limits.get("threads", 1)))
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = threads


# --------------------------------------------------------------------------- the runner
class Runner:
    """Runs the plan, reporting to the judge over ``read_fd`` / ``write_fd``."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        from cnncourse.probe.wire import fd_reader

        self.read_fd, self.write_fd = read_fd, write_fd
        self.reader = fd_reader(read_fd)

    def send(self, body: dict) -> None:
        """A report: plain JSON (control messages never carry tensors)."""
        from cnncourse.probe.wire import Message, write_frame

        write_frame(self.write_fd, Message(body))

    def main(self) -> None:
        plan = self.reader.read().body
        limits = plan.get("limits", {})
        apply_limits(limits)  # torch, imported by the notebook, reads its threads from these
        self.notebook = Notebook(float(limits.get("cell_timeout", 60)))
        self.send({"event": "ready"})
        for index, step in enumerate(plan.get("steps", [])):
            if step.get("kind") == "tests":
                self.tests(index, float(step.get("budget", 60)))
            else:
                self.send({"event": "cell", "index": index})
                outcome = self.notebook.run(str(step.get("source", "")))
                self.send({"event": "cell_done", "index": index, **outcome})
        self.send({"event": "finished"})

    def tests(self, index: int, budget: float) -> None:
        """Fork a child that serves the judge for this group; relay its frames."""
        import cnncourse.probe.server  # noqa: F401 - here, once: every child starts warm
        from cnncourse.probe.wire import WireError, fd_reader, write_frame

        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        started = time.monotonic()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(to_child_w)
                os.close(from_child_r)
                self._serve(index, to_child_r, from_child_w, budget)
            finally:
                os._exit(0)
        os.close(to_child_r)
        os.close(from_child_w)
        self.send({"event": "tests", "index": index})
        child = fd_reader(from_child_r)
        status = "ok"
        deadline = started + budget * WALL_FACTOR  # the CPU limit is the child's own
        try:
            while True:
                request = self._judge_request(index, deadline)
                if request is None:
                    status = "killed"
                    break
                write_frame(to_child_w, request)
                try:
                    answer = _read_before(child, from_child_r, deadline)
                except (EOFError, WireError, OSError):
                    status = "crashed"
                    break
                if answer is None:
                    status = "killed"
                    break
                write_frame(self.write_fd, answer)
                if request.body.get("op") == "done":
                    break
        finally:
            if status == "crashed":  # it ended by itself: out of CPU time, or a crash
                with contextlib.suppress(ChildProcessError):
                    _, code = os.waitpid(pid, 0)
                    if os.WIFSIGNALED(code) and os.WTERMSIG(code) == signal.SIGPROF:
                        status = "killed"
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            for fd in (to_child_w, from_child_r):
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.send({"event": "tests_done", "index": index, "status": status,
                   "seconds": round(time.monotonic() - started, 3)})

    def _judge_request(self, index: int, deadline: float) -> Any:
        """The judge's next request for this group (stale ones for earlier groups are
        skipped), or None when the group's time is up."""
        from cnncourse.probe.wire import Message

        while True:
            message = _read_before(self.reader, self.read_fd, deadline + GRACE_S)
            if message is None:
                return None
            body = message.body
            if isinstance(body, dict) and body.get("group") == index:
                return Message(body.get("request"), message.blobs)

    def _serve(self, index: int, read_fd: int, write_fd: int, budget: float) -> None:
        """The child: the notebook's objects, answering one request at a time, for at most
        ``budget`` CPU seconds."""
        import torch

        signal.signal(signal.SIGPROF, signal.SIG_DFL)  # out of CPU time: the signal ends it
        signal.setitimer(signal.ITIMER_PROF, budget)

        from cnncourse.probe.server import ProbeServer
        from cnncourse.probe.wire import encode, fd_reader, write_frame

        torch.set_num_threads(1)  # an OpenMP team of the parent's does not survive fork
        sys.stdout = sys.stderr = io.StringIO()  # a check's prints are not the cell's
        server = ProbeServer(self.notebook.namespace)
        reader = fd_reader(read_fd)
        while True:
            message = reader.read()
            if isinstance(message.body, dict) and message.body.get("op") == "done":
                write_frame(write_fd, encode({"ok": None}))
                return
            write_frame(write_fd, server.handle(message))


def _read_before(reader: Any, fd: int, deadline: float) -> Any:
    """The next frame from ``reader`` if it starts arriving before ``deadline``, else None."""
    import select

    left = deadline - time.monotonic()
    if left <= 0:
        return None
    ready, _, _ = select.select([fd], [], [], left)
    if not ready:
        return None
    return reader.read()


def prepare_workdir(source: str, target: str) -> None:
    """Copy the submission's files (bound read-only at ``source``) into the private,
    size-limited working folder."""
    if os.path.isdir(source):
        shutil.copytree(source, target, dirs_exist_ok=True)


def main() -> None:
    # the channel moves off 0 and 1, which now lead nowhere: a print below Python (a C
    # library, a subprocess) cannot corrupt it
    serve(os.dup(0), os.dup(1))


def serve(read_fd: int, write_fd: int) -> None:
    """The runner on this channel, until the plan is done; then the process ends. (A runner
    of its own starts here from ``main``; one forked by the zygote, ``zygote.py``, too.)"""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    workdir = os.environ.get("CNNCOURSE_WORKDIR", os.getcwd())
    prepare_workdir(os.environ.get("CNNCOURSE_SUBMISSION", ""), workdir)
    os.chdir(workdir)
    sys.path.insert(0, workdir)
    runner = Runner(read_fd, write_fd)
    try:
        runner.main()
    except Exception as error:  # noqa: BLE001 - say what stopped the runner, then stop
        with contextlib.suppress(Exception):
            runner.send({"event": "failed", "error": f"{type(error).__name__}: {error}"[:2000]})
    os._exit(0)


if __name__ == "__main__":
    json.dumps  # noqa: B018 - imported for the standard library's warm-up only
    main()
