"""One notebook's run in the sandbox, driven from the grading process.

:func:`run_notebook` starts the runner (``sandbox.runner_command``), sends it the plan
(``plan.py``) and follows its reports: each cell's outputs as it finishes, and at each
test group a probe the judge questions (``judge.py``) through a :class:`GroupChannel`.
Every report is read with a deadline; a runner that goes quiet longer than a cell's limit
allows is killed with everything it started, and the parts it did not reach score 0.
Limits count CPU seconds (``runner.WALL_FACTOR``): the deadlines here are wall-clock ones,
that many times longer.

Given a zygote (``zygote.py``), the runner is forked from it (:class:`ZygoteSession`)
instead of started; when that fails before the runner is ready, a runner of its own is
started as without one, and the log says so.
"""

from __future__ import annotations

import contextlib
import math
import os
import select
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cnncourse.grading.plan import Step
from cnncourse.grading.sandbox import Limits, process_allowance
from cnncourse.grading.zygote import Zygote, ZygoteFailed, setup_message
from cnncourse.probe.client import Channel, ProbeUnavailable
from cnncourse.probe.runner import WALL_FACTOR
from cnncourse.probe.wire import FrameReader, Message, WireError, write_frame
from cnncourse.probe.zygote import HELLO

STARTUP_S = 120.0  # the runner imports torch and IPython (slow on a loaded machine)
GRACE_S = 10.0  # on top of a cell's own limit, before the runner counts as stuck
STATUS_MESSAGES = {
    "killed": ("the test did not finish within {budget:g} s of computing and was stopped: look "
               "for a loop that never ends, or code far slower than your self-check run "
               "suggests"),
    "crashed": ("the test ended Python before it finished (exit(), os._exit, running out of "
                "memory or a crash in compiled code)"),
    "lost": "the test could not finish: the notebook's code stopped the grader's run",
}


@dataclass
class TestOutcome:
    passed: bool
    message: str = ""  # the judge's message, for a failed test
    output: str = ""  # what the checker printed (its success line)


@dataclass
class RunRecord:
    """What one run produced: per cell (by step index) its outputs, per test its verdict."""

    cells: dict[int, dict] = field(default_factory=dict)
    tests: dict[str, TestOutcome] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timeouts: list[int] = field(default_factory=list)  # positions of cells stopped
    finished: bool = False
    seconds: float = 0.0
    log: str = ""


class Stuck(Exception):
    """The runner did not report in time, or reported nonsense."""


class _DeadlineReader:
    """``os.read`` that gives up at ``deadline`` (a ``time.monotonic`` value)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.deadline = math.inf

    def __call__(self, size: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0 or not select.select([self.fd], [], [], left)[0]:
            raise TimeoutError("no answer in time")
        return os.read(self.fd, size)


class GroupChannel(Channel):
    """The probe of one test group: requests go out wrapped with the group's index; an
    event arriving instead of an answer (the group's time ran out) ends the conversation."""

    def __init__(self, session: Session, index: int, deadline: float) -> None:
        self.session, self.index, self.deadline = session, index, deadline
        self.pending: dict | None = None  # an event that came instead of an answer
        self.closed = False

    def exchange(self, message: Message) -> Message:
        if self.closed:
            raise ProbeUnavailable("the test group is over")
        try:
            self.session.send({"group": self.index, "request": message.body}, message.blobs)
            reply = self.session.receive(self.deadline)
        except (Stuck, OSError) as error:
            self.closed = True
            raise ProbeUnavailable(str(error)) from None
        if isinstance(reply.body, dict) and "event" in reply.body:
            self.pending, self.closed = reply.body, True
            raise ProbeUnavailable("the test group ended")
        return reply


class Session:
    """The runner process and its two pipes."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._log,
                                        start_new_session=True)
        self.write_fd = self.process.stdin.fileno()
        self._reader = _DeadlineReader(self.process.stdout.fileno())
        self.frames = FrameReader(self._reader)

    def send(self, body: Any, blobs: list[bytes] | None = None) -> None:
        """A control message (plain JSON), or a request already encoded with its blobs."""
        write_frame(self.write_fd, Message(body, blobs or []))

    def receive(self, deadline: float) -> Message:
        self._reader.deadline = deadline
        try:
            return self.frames.read()
        except TimeoutError:
            raise Stuck("no report in time") from None
        except (EOFError, WireError, OSError) as error:
            raise Stuck(f"the run ended ({error})") from None

    def event(self, deadline: float, expected: str) -> dict:
        """The next report, which must be the event ``expected``."""
        body = self.receive(deadline).body
        if not isinstance(body, dict) or body.get("event") != expected:
            got = body.get("event") if isinstance(body, dict) else type(body).__name__
            detail = f": {str(body.get('error'))[:300]}" if isinstance(body, dict) and \
                body.get("error") else ""
            raise Stuck(f"expected '{expected}', got '{str(got)[:40]}'{detail}")
        return body

    def close(self, finished: bool = False) -> str:
        """Kill the runner and everything it started (a runner that finished gets a moment
        to end by itself); what it printed before its start."""
        if finished:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                pipe.close()
        self._log.close()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]


class ZygoteSession(Session):
    """A runner forked by the zygote: the same conversation over a socket of its own. Its
    PID 1 (the kernel names it, ``SCM_CREDENTIALS``) is held by a pidfd: killing it ends
    every process of the submission's PID namespace. A lifeline pipe ends them too if this
    process dies first."""

    _CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid

    def __init__(self, zygote: Zygote, view: Path, submission: Path, limits: Limits,
                 log: Path, deadline: float) -> None:
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in close()
        self.pidfd: int | None = None
        self.lifeline: int | None = None
        self.pid = 0
        self.channel, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # before PID 1 can say hello: the kernel then adds its pid to the message
            self.channel.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            life_r, self.lifeline = os.pipe()
            try:
                zygote.request(theirs.fileno(), life_r, self._log.fileno())
            finally:
                theirs.close()
                os.close(life_r)
            self.pid = self._hello(deadline)
            self.pidfd = os.pidfd_open(self.pid)
            self.channel.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 0)
            self.write_fd = self.channel.fileno()
            self._reader = _DeadlineReader(self.write_fd)
            self.frames = FrameReader(self._reader)
            write_frame(self.write_fd, setup_message(view, submission, limits, zygote.hidden))
        except (OSError, ZygoteFailed) as error:
            self.close()
            raise ZygoteFailed(str(error)) from None

    def _hello(self, deadline: float) -> int:
        """PID 1's first bytes, and its pid as this process sees it."""
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([self.channel], [], [], left)[0]:
            raise ZygoteFailed("the zygote did not answer in time")
        data, ancillary, _, _ = self.channel.recvmsg(
            len(HELLO), socket.CMSG_SPACE(self._CREDENTIALS.size))
        if data != HELLO:
            raise ZygoteFailed("the zygote gave no runner (its log is above)")
        for level, kind, payload in ancillary:
            if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                pid = self._CREDENTIALS.unpack(payload[:self._CREDENTIALS.size])[0]
                if pid > 0:
                    return pid
        raise ZygoteFailed("the runner's PID 1 cannot be seen from here")

    def close(self, finished: bool = False) -> str:
        """Kill PID 1, and with it everything of the submission (a runner that finished
        gets a moment to end by itself); what the log holds."""
        if self.pidfd is not None and finished:
            select.select([self.pidfd], [], [], 5)
        if self.lifeline is not None:
            with contextlib.suppress(OSError):
                os.close(self.lifeline)
            self.lifeline = None
        if self.pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            select.select([self.pidfd], [], [], 30)  # readable once it and its namespace end
            os.close(self.pidfd)
            self.pidfd = None
        with contextlib.suppress(OSError):
            self.channel.close()
        self._log.close()
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]


@dataclass
class ZygoteRun:
    """Fork the runner from ``zygote`` (None: there is none, ``why_not``) for the
    submission's folder ``submission`` and the view holding its ``cnncourse``."""

    zygote: Zygote | None
    view: Path
    submission: Path
    why_not: str = ""


def _note(log: Path, line: str) -> None:
    with open(log, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def _forked(fork: ZygoteRun | None, plan: dict, limits: Limits, log: Path) -> Session | None:
    """A runner forked by the zygote, sent ``plan`` and ready; else None (said in the log,
    unless the zygote was turned off)."""
    if fork is None:
        return None
    if fork.zygote is None:
        if "CNNCOURSE_ZYGOTE=0" not in fork.why_not:
            _note(log, f"zygote: none ({fork.why_not}): a sandbox of its own")
        return None
    session = None
    try:
        session = ZygoteSession(fork.zygote, fork.view, fork.submission, limits, log,
                                time.monotonic() + STARTUP_S)
        session.send(plan)
        session.event(time.monotonic() + STARTUP_S, "ready")
        return session
    except (ZygoteFailed, Stuck, OSError) as failure:
        if session is not None:
            session.close()
        _note(log, f"zygote: {failure}: this run starts a sandbox of its own instead")
        return None


JudgeGroup = Callable[[Channel, Step], dict[str, TestOutcome | None]]


def run_notebook(steps: list[Step], command: list[str], env: dict[str, str], limits: Limits,
                 judge_group: JudgeGroup, log: Path, fork: ZygoteRun | None = None
                 ) -> RunRecord:
    """Run ``steps`` in a runner forked by the zygote (``fork``), else in the runner
    started by ``command``; never raises for what the notebook does."""
    record = RunRecord()
    started = time.monotonic()
    plan = {"limits": {"cell_timeout": limits.cell_timeout, "memory_mb": limits.memory_mb,
                       "file_mb": limits.file_mb, "threads": limits.threads,
                       "processes": process_allowance(limits)},
            "steps": [{"kind": s.kind, "source": s.source, "budget": _budget(s, limits)}
                      for s in steps]}
    session = _forked(fork, plan, limits, log)
    ready = session is not None
    if session is None:
        session = Session(command, env, log)
    position = None
    try:
        if not ready:
            session.send(plan)
            session.event(time.monotonic() + STARTUP_S, "ready")
        for index, step in enumerate(steps):
            position = step.position
            if step.kind == "tests":
                _tests(session, index, step, limits, judge_group, record)
                continue
            session.event(time.monotonic() + GRACE_S, "cell")
            done = session.event(time.monotonic() + limits.cell_timeout * WALL_FACTOR
                                 + GRACE_S, "cell_done")
            record.cells[index] = {"outputs": done.get("outputs", []),
                                   "error": done.get("error"), "seconds": done.get("seconds")}
            if isinstance(done.get("error"), dict) and step.position is not None and \
                    "ran for more than" in str(done["error"].get("evalue", "")):
                record.timeouts.append(step.position)
        session.event(time.monotonic() + GRACE_S, "finished")
        record.finished = True
    except Stuck as stuck:
        where = f"cell {position}" if position else "a cell"
        if "no report in time" in str(stuck):
            record.notes.append(f"the run was stopped after its time limit, in {where} (a "
                                "cell that did not stop at its own limit); the parts after "
                                "it score 0")
            if position is not None:
                record.timeouts.append(position)
        elif "the run ended" in str(stuck):
            record.notes.append(f"the notebook's code ended Python in {where} (exit(), "
                                "os._exit, a crash in compiled code, or running out of "
                                "memory); the parts after it score 0")
        else:
            record.notes.append(f"the notebook's code broke the grader's run in {where} "
                                f"({stuck}); the parts after it score 0")
    finally:
        record.log = session.close(record.finished)
        record.seconds = time.monotonic() - started
    for step in steps:
        for gid, _, _ in step.tests:
            record.tests.setdefault(gid, TestOutcome(False, STATUS_MESSAGES["lost"]))
    return record


def _budget(step: Step, limits: Limits) -> float:
    return float(limits.cell_timeout * max(1, len(step.tests)))


def _tests(session: Session, index: int, step: Step, limits: Limits,
           judge_group: JudgeGroup, record: RunRecord) -> None:
    """One test group: the judge questions the probe; then the runner says how it ended."""
    budget = _budget(step, limits)
    session.event(time.monotonic() + GRACE_S, "tests")
    channel = GroupChannel(session, index, time.monotonic() + budget * WALL_FACTOR + GRACE_S)
    outcomes = judge_group(channel, step)
    if not channel.closed:
        with contextlib.suppress(ProbeUnavailable):
            channel.ask("done")
    done = channel.pending or session.event(
        time.monotonic() + budget * WALL_FACTOR + 2 * GRACE_S, "tests_done")
    if done.get("event") != "tests_done":
        raise Stuck(f"expected 'tests_done', got '{str(done.get('event'))[:40]}'")
    status = done.get("status") if done.get("status") in STATUS_MESSAGES else "lost"
    for gid, _, _ in step.tests:
        outcome = outcomes.get(gid)
        if outcome is None:
            outcome = TestOutcome(False, STATUS_MESSAGES[status].format(budget=budget))
        record.tests[gid] = outcome
