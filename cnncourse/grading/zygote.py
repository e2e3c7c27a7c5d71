"""The grader's side of the sandbox zygote (``cnncourse/probe/zygote.py``).

Starting a runner costs an interpreter and ``import torch`` (about 1.2 CPU seconds) per
submission. A :class:`Zygote` is one long-lived bubblewrap sandbox, with the same view as a
runner's but no submission, whose program has imported all that once; each submission's
runner is forked from it into fresh namespaces of its own (a user namespace, its own PID
namespace and /proc, a fresh size-limited working folder, no network) and drops every
capability before the first line of the notebook.

The grading workers' fork server starts one (``warm.py``) and every worker it forks
inherits the control socket. A ``session.ZygoteSession`` is one submission's run: a fresh
socket pair for its frames, a lifeline pipe and its log travel to the zygote as file
descriptors; the kernel names the submission's PID 1 to the grader (``SCM_CREDENTIALS``),
which holds a pidfd on it: killing it kills the whole namespace. When anything about the
zygote fails before the runner is ready, ``session.run_notebook`` starts a sandbox of its
own instead, as without a zygote, and the log says so. ``CNNCOURSE_ZYGOTE=0`` turns the
zygote off.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

from cnncourse.grading import sandbox
from cnncourse.grading.sandbox import Limits
from cnncourse.grading.view import PACKAGE, build_view
from cnncourse.probe.wire import Message
from cnncourse.probe.zygote import REQUEST


class ZygoteFailed(Exception):
    """The zygote could not give this submission a runner (the grader starts its own)."""


class Zygote:
    """One zygote sandbox and the control socket to it."""

    def __init__(self, limits: Limits | None = None) -> None:
        limits = limits or Limits()
        self.owner = os.getpid()
        _sweep()
        self.root = Path(tempfile.mkdtemp(prefix=f"cnncourse-zygote-{self.owner}-"))
        view = build_view(self.root / "view", []).parent
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        command, env, self.hidden = sandbox.zygote_command(view, theirs.fileno(), limits)
        self.log_path = self.root / "zygote.log"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=log,
                                            pass_fds=(theirs.fileno(),),
                                            start_new_session=True)
        theirs.close()
        self.control = ours
        atexit.register(self.stop)

    def request(self, channel: int, lifeline: int, log: int) -> None:
        """Ask for a runner on these three descriptors (sent, not kept, by the zygote)."""
        try:
            socket.send_fds(self.control, [REQUEST], [channel, lifeline, log],
                            socket.MSG_NOSIGNAL)
        except OSError as error:
            raise ZygoteFailed(f"the zygote is gone ({error.strerror or error})") from None

    def stop(self) -> None:
        """End the zygote (its sandbox ends with it) and remove its files; only the process
        that started it does (the workers forked from it inherit this object)."""
        if os.getpid() != self.owner:
            return
        with contextlib.suppress(OSError):
            self.control.close()
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(Exception):
            self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _sweep() -> None:
    """Remove what zygotes of processes killed outright (SIGKILL: no exit handler ran) left
    in the temporary folder: their views."""
    for folder in Path(tempfile.gettempdir()).glob("cnncourse-zygote-*-*"):
        try:
            owner = int(folder.name.split("-")[2])
            if folder.stat().st_uid != os.geteuid():
                continue
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (ValueError, OSError):
            continue


_SHARED: Zygote | None = None
_WHY_NOT = "not started in this process"


def start_shared() -> None:
    """Start this process's zygote (the fork server does, once); never raises."""
    global _SHARED, _WHY_NOT
    if os.environ.get("CNNCOURSE_ZYGOTE", "1") == "0":
        _WHY_NOT = "turned off (CNNCOURSE_ZYGOTE=0)"
        return
    problem = sandbox.availability()
    if problem:
        _WHY_NOT = problem
        return
    try:
        _SHARED = Zygote()
    except Exception as error:  # noqa: BLE001 - grading goes on without one
        _WHY_NOT = f"it could not start: {type(error).__name__}: {error}"


def shared() -> tuple[Zygote | None, str]:
    """The zygote this process may use, else None and why not."""
    return _SHARED, _WHY_NOT


def setup_message(view: Path, submission: Path, limits: Limits, hidden: list[str]) -> Message:
    """What PID 1 of a submission's namespace mounts: its files, the checker stubs of its
    view, the limits of its folders, the runner's environment."""
    files = sorted(p for p in submission.rglob("*") if p.is_file()) \
        if submission.is_dir() else []
    stubs = sorted((view / "cnncourse" / "checks").glob("*.py"))
    body = {"workdir": sandbox.WORKDIR, "submission": sandbox.SUBMISSION,
            "checks": str(PACKAGE / "checks"), "hide": hidden,
            "disk_mb": limits.disk_mb, "memory_mb": limits.memory_mb,
            "threads": limits.threads,
            "env": sandbox.environment(limits, sandbox.WORKDIR, sandbox.SUBMISSION),
            "files": [str(p.relative_to(submission)) for p in files],
            "stubs": [p.name for p in stubs]}
    return Message(body, [p.read_bytes() for p in files + stubs])
