"""One notebook's run driven from the grading process (``cnncourse.grading.session``).

Fake runners (tiny scripts speaking the frame protocol, without torch) go silent, exit in
the middle of a cell, send garbage or the wrong event, or end a test group early: each
becomes a note and zero for the parts not reached, never an exception, and nothing they
started survives. One run of the real runner (without bubblewrap) grades the toy notebook
with the real judge."""

from __future__ import annotations

import copy
import os
import secrets
import sys
import time
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading import session
from cnncourse.grading.judge import checker_names, group_judge
from cnncourse.grading.plan import Step, plan_steps
from cnncourse.grading.sandbox import Limits
from cnncourse.grading.session import STATUS_MESSAGES, run_notebook
from cnncourse.grading.session import TestOutcome as Outcome
from cnncourse.probe.client import ProbeUnavailable

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "fixtures" / "course" / "source" / "toy" / "toy.ipynb"
LIMITS = Limits(cell_timeout=1)

PROTOCOL = r'''
import json, os, struct, subprocess, sys, time

def send(body):
    text = json.dumps(body).encode()
    os.write(1, struct.pack("<4sII", b"CNNP", len(text), 0) + text)

def exactly(size):
    data = b""
    while len(data) < size:
        chunk = os.read(0, size - len(data))
        if not chunk:
            sys.exit(0)
        data += chunk
    return data

def read():
    magic, size, blobs = struct.unpack("<4sII", exactly(12))
    body = json.loads(exactly(size))
    for _ in range(blobs):
        exactly(struct.unpack("<Q", exactly(8))[0])
    return body

def cell(index):
    send({"event": "cell", "index": index})
    send({"event": "cell_done", "index": index, "outputs": [
        {"output_type": "stream", "name": "stdout", "text": f"cell {index}\n"}],
        "error": None, "seconds": 0.0})

def group(index, answer=None):
    send({"event": "tests", "index": index})
    while True:
        request = read()
        if request.get("request", {}).get("op") == "done":
            send({"ok": None})
            break
        send(answer if answer is not None else {"ok": "pong"})
    send({"event": "tests_done", "index": index, "status": "ok", "seconds": 0.0})

TOKEN = sys.argv[1]
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", TOKEN],
                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
plan = read()
'''

STEPS = [Step("setup", "import math", None, "setup"), Step("student", "x = 1", 3),
         Step("tests", tests=(("a_test", "check_a(a)", 4), ("a_test_hidden", "...", 5))),
         Step("student", "y = 2", 6), Step("tests", tests=(("b_test", "check_b(b)", 7),))]


def pinging_judge(channel, step):
    """Asks the probe once per test; a test passes when it answers."""
    outcomes = {}
    for gid, _, _ in step.tests:
        try:
            outcomes[gid] = Outcome(channel.ask("ping").get("ok") == "pong", "no pong")
        except ProbeUnavailable:
            outcomes[gid] = None
            break
    return outcomes


def processes_with(token: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if token.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def fake(tmp_path: Path, scenario: str, judge=pinging_judge, steps=STEPS, ready=True):
    """Run ``steps`` against a fake runner playing ``scenario`` (after saying it is ready);
    the record, the wall time, and the processes it started still alive afterwards."""
    script = tmp_path / "fake_runner.py"
    script.write_text(PROTOCOL + ("send({'event': 'ready'})\n" if ready else "") + scenario)
    token = f"fake-runner-child-{secrets.token_hex(6)}"
    started = time.monotonic()
    record = run_notebook(steps, [sys.executable, str(script), token],
                          {"PATH": os.environ.get("PATH", "/usr/bin")}, LIMITS, judge,
                          tmp_path / "runner.log")
    seconds = time.monotonic() - started
    alive = processes_with(token)
    while alive and time.monotonic() < started + seconds + 3:  # SIGKILL takes a moment
        time.sleep(0.05)
        alive = processes_with(token)
    for pid in alive:
        os.kill(pid, 9)
    return record, seconds, alive


@pytest.fixture
def short_grace(monkeypatch):
    monkeypatch.setattr(session, "GRACE_S", 1.0)
    monkeypatch.setattr(session, "STARTUP_S", 2.0)


def test_a_run_that_follows_the_protocol_is_recorded(tmp_path):
    record, _, alive = fake(tmp_path, "cell(0)\ncell(1)\ngroup(2)\ncell(3)\ngroup(4)\n"
                                      "send({'event': 'finished'})\n")
    assert record.finished and record.notes == [] and alive == []
    assert record.tests == {gid: Outcome(True, "no pong") for gid in
                            ("a_test", "a_test_hidden", "b_test")}
    assert record.cells[1]["outputs"][0]["text"] == "cell 1\n" and set(record.cells) == {0, 1, 3}


def test_a_runner_that_goes_silent_is_killed_after_the_cell_limit_and_its_grace(
        tmp_path, short_grace):
    record, seconds, alive = fake(tmp_path, "cell(0)\nsend({'event': 'cell', 'index': 1})\n"
                                            "time.sleep(300)\n")
    limit = LIMITS.cell_timeout + session.GRACE_S
    assert limit - 0.2 <= seconds < limit + 5  # + starting Python on a loaded machine
    assert record.notes == ["the run was stopped after its time limit, in cell 3 (a cell that "
                            "did not stop at its own limit); the parts after it score 0"]
    assert record.timeouts == [3] and not record.finished
    assert all(not outcome.passed and outcome.message == STATUS_MESSAGES["lost"]
               for outcome in record.tests.values())
    assert set(record.tests) == {"a_test", "a_test_hidden", "b_test"}
    assert alive == []  # the runner's own children went with it


def test_a_runner_that_never_starts_is_stopped(tmp_path, short_grace):
    record, seconds, alive = fake(tmp_path, "time.sleep(300)\n", ready=False)
    assert session.STARTUP_S - 0.2 <= seconds < session.STARTUP_S + 5
    assert record.notes[0].startswith("the run was stopped after its time limit, in a cell")
    assert not any(o.passed for o in record.tests.values()) and alive == []


def test_a_runner_that_exits_mid_cell_is_the_ended_python_note(tmp_path):
    record, seconds, alive = fake(tmp_path, "cell(0)\ncell(1)\ngroup(2)\n"
                                            "send({'event': 'cell', 'index': 3})\nos._exit(1)\n")
    assert record.notes == ["the notebook's code ended Python in cell 6 (exit(), os._exit, a "
                            "crash in compiled code, or running out of memory); the parts "
                            "after it score 0"]
    assert record.tests["a_test"].passed and record.tests["a_test_hidden"].passed
    assert record.tests["b_test"] == Outcome(False, STATUS_MESSAGES["lost"])
    assert seconds < 10 and alive == []


@pytest.mark.parametrize("garbage", [
    "os.write(1, b'Traceback (most recent call last): not a frame at all')\ntime.sleep(1)\n",
    "os.write(1, struct.pack('<4sII', b'CNNP', 9, 0) + b'{not json')\ntime.sleep(1)\n",
    "os.write(1, struct.pack('<4sII', b'CNNP', 2**31, 0))\ntime.sleep(1)\n",
])
def test_garbage_on_the_channel_is_a_note_never_an_exception(tmp_path, garbage):
    record, _, alive = fake(tmp_path, "cell(0)\n" + garbage)
    assert len(record.notes) == 1 and "cell 3" in record.notes[0]
    assert record.notes[0].endswith("the parts after it score 0")
    assert not any(o.passed for o in record.tests.values()) and alive == []


def test_the_wrong_event_is_a_note_naming_it(tmp_path):
    record, _, _ = fake(tmp_path, "cell(0)\nsend({'event': 'finished'})\ntime.sleep(1)\n")
    assert record.notes == ["the notebook's code broke the grader's run in cell 3 (expected "
                            "'cell', got 'finished'); the parts after it score 0"]
    record, _, _ = fake(tmp_path, "cell(0)\nsend([1, 2, 3])\ntime.sleep(1)\n")
    assert "expected 'cell', got 'list'" in record.notes[0]


def test_a_group_that_ends_before_the_judge_is_done_costs_its_tests(tmp_path):
    scenario = ("cell(0)\ncell(1)\nsend({'event': 'tests', 'index': 2})\nread()\n"
                "send({'event': 'tests_done', 'index': 2, 'status': 'killed', 'seconds': 1})\n"
                "cell(3)\ngroup(4)\nsend({'event': 'finished'})\n")
    record, _, _ = fake(tmp_path, scenario)
    budget = session._budget(STEPS[2], LIMITS)
    killed = STATUS_MESSAGES["killed"].format(budget=budget)
    assert record.tests["a_test"] == Outcome(False, killed)
    assert record.tests["a_test_hidden"] == Outcome(False, killed)
    assert record.tests["b_test"].passed and record.finished and record.notes == []


def test_a_probe_answering_out_of_turn_fails_the_test_not_the_run(tmp_path):
    scenario = ("cell(0)\ncell(1)\ngroup(2, answer={'passed': True})\ncell(3)\ngroup(4)\n"
                "send({'event': 'finished'})\n")
    record, _, _ = fake(tmp_path, scenario)
    assert not record.tests["a_test"].passed and record.tests["b_test"].passed
    assert record.finished


def test_the_real_runner_with_the_real_judge(tmp_path):
    source = nbformat.read(TOY, as_version=4)
    submitted = copy.deepcopy(source)
    for cell in submitted.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "norm_solution":
            cell.source = "def norm(v):\n    return sum(x * x for x in v)"
    steps = plan_steps(source, submitted)
    setup = [s.source for s in steps if s.kind == "setup"]
    env = {"PATH": os.environ.get("PATH", "/usr/bin"), "PYTHONPATH": str(REPO),
           "CNNCOURSE_WORKDIR": str(tmp_path), "CNNCOURSE_SUBMISSION": "",
           "OMP_NUM_THREADS": "1", "HOME": str(tmp_path)}
    record = run_notebook(steps, [sys.executable, "-m", "cnncourse.probe.runner"], env,
                          Limits(cell_timeout=30), group_judge(checker_names(setup), "s3cret"),
                          tmp_path / "runner.log")
    assert record.finished and record.notes == [], record.log
    assert record.tests["add_test"].passed and record.tests["add_test_hidden"].passed
    assert record.tests["add_test"].output.startswith("\u2713 add: 1 cases passed")
    assert not record.tests["norm_test"].passed
    assert "norm([3, 4]): expected 5, got 25" in record.tests["norm_test"].message
    printed = [o["text"] for c in record.cells.values() for o in c["outputs"]
               if o["output_type"] == "stream"]
    assert "3\n" in printed  # the student's self-check cell ran in the runner
