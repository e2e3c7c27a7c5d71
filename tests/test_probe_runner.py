"""The sandbox's main program (``python -m cnncourse.probe.runner``), driven over its stdin
and stdout the way ``grading/session.py`` drives it: frames only.

One runner (without bubblewrap, for speed) runs one plan whose cells print, display rich
and active outputs, print too much, fail, and overrun their time; its test groups are
served by a forked child that answers, changes state that must not leak, crashes, hangs, and
gets a stale request of an earlier group first. One more run goes through bubblewrap.
"""

from __future__ import annotations

import base64
import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cnncourse.grading.sandbox import Limits, availability, runner_command
from cnncourse.grading.view import build_view
from cnncourse.probe import runner, wire
from cnncourse.probe.client import Channel, ProbeUnavailable, Remote, lookup
from cnncourse.probe.outputs import IMAGE_LIMIT, KEPT_MIMETYPES, OUTPUT_LIMIT, TRUNCATED, inert

REPO = Path(__file__).resolve().parent.parent
CELL_TIMEOUT = 4
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5Er"
       "kJggg==")


class Runner:
    """A runner process and the judge's end of its two pipes."""

    def __init__(self, command: list[str], env: dict[str, str], log: Path) -> None:
        self.log = open(log, "wb")  # noqa: SIM115 - closed in close()
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.log,
                                        start_new_session=True)
        self.out = self.process.stdout.fileno()
        self.frames = wire.FrameReader(self._read)
        self.deadline = 0.0

    def _read(self, size: int) -> bytes:
        left = self.deadline - time.monotonic()
        if left <= 0 or not select.select([self.out], [], [], left)[0]:
            raise TimeoutError("the runner did not answer in time")
        return os.read(self.out, size)

    def send(self, body, blobs=()) -> None:
        wire.write_frame(self.process.stdin.fileno(), wire.Message(body, list(blobs)))

    def receive(self, timeout: float) -> wire.Message:
        self.deadline = time.monotonic() + timeout
        return self.frames.read()

    def event(self, expected: str, timeout: float = 60) -> dict:
        body = self.receive(timeout).body
        assert isinstance(body, dict) and body.get("event") == expected, body
        return body

    def close(self) -> None:
        self.process.kill()
        self.process.wait()
        self.process.stdin.close()
        self.process.stdout.close()
        self.log.close()


class Group(Channel):
    """The judge's channel to one test group."""

    def __init__(self, run: Runner, index: int, timeout: float = 30) -> None:
        self.run, self.index, self.timeout = run, index, timeout
        self.ended: dict | None = None

    def exchange(self, message: wire.Message) -> wire.Message:
        self.run.send({"group": self.index, "request": message.body}, message.blobs)
        reply = self.run.receive(self.timeout)
        if isinstance(reply.body, dict) and "event" in reply.body:
            self.ended = reply.body
            raise ProbeUnavailable("the group ended")
        return reply


def plain_env(workdir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CNNCOURSE")}
    env.update(PYTHONPATH=str(REPO), CNNCOURSE_WORKDIR=str(workdir), CNNCOURSE_SUBMISSION="",
               MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    return env


CELLS = {
    "streams": "import os, sys\nprint('hello')\nprint('careful', file=sys.stderr)\n"
               "os.write(1, b'CNNP garbage below Python')\n1 + 1\n",
    "rich": ("from IPython.display import HTML, SVG, Image, Javascript, Markdown, display\n"
             "import base64\n"
             "display(HTML('<script>alert(1)</script><b>bold</b>'))\n"
             "display(Javascript('alert(2)'))\n"
             "display(SVG('<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(3)\"/>'))\n"
             "display(Markdown('**md**'))\n"
             f"display(Image(data=base64.b64decode('{PNG}')))\n"
             "display({'image/png': base64.b64encode(b'not a png').decode(),"
             " 'text/plain': 'fake'}, raw=True)\n"
             "display({'text/html': '<img src=x onerror=alert(4)>'}, raw=True)\n"
             "class Page:\n"
             "    def _repr_html_(self):\n        return '<script>alert(5)</script>'\n"
             "    def __repr__(self):\n        return 'a page'\n"
             "Page()\n"),
    "flood": "for i in range(3000):\n    print('y' * 999)\n",
    "huge line": "print('z' * 2_000_000)\nprint('after')\n",
    "error": "def broken():\n    return 1 / 0\nbroken()\n",
    "define": ("import os, time\nstate = [1]\n"
               "def add(a, b):\n    return a + b\n"
               "def bump():\n    state.append(2)\n    return len(state)\n"
               "def crash():\n    os._exit(3)\n"
               "def hang():\n    time.sleep(100)\n"),
    "after group": "print(len(state))\n",
    "timeout": "import time\ntime.sleep(100)\n",
    "still alive": "print('still here')\n",
}
HANG_BUDGET = 2.0


@pytest.fixture(scope="module")
def conversation(tmp_path_factory):
    """Runs the plan once; what every step produced."""
    tmp = tmp_path_factory.mktemp("runner")
    steps = [("streams",), ("rich",), ("flood",), ("huge line",), ("error",), ("define",),
             ("tests", "answer"), ("after group",), ("timeout",), ("tests", "crash"),
             ("tests", "hang"), ("tests", "stale"), ("still alive",)]
    plan = {"limits": {"cell_timeout": CELL_TIMEOUT, "memory_mb": 4096, "file_mb": 16,
                       "threads": 1, "processes": 0},
            "steps": [{"kind": "tests", "budget": HANG_BUDGET if s[1] == "hang" else 30}
                      if s[0] == "tests" else {"kind": "student", "source": CELLS[s[0]]}
                      for s in steps]}
    run = Runner([sys.executable, "-m", "cnncourse.probe.runner"], plain_env(tmp),
                 tmp / "runner.log")
    seen: dict = {"cells": {}, "groups": {}}
    try:
        run.send(plan)
        run.event("ready", timeout=120)
        for index, step in enumerate(steps):
            if step[0] != "tests":
                run.event("cell")
                seen["cells"][step[0]] = run.event("cell_done", timeout=CELL_TIMEOUT + 30)
                continue
            run.event("tests")
            group = Group(run, index)
            record: dict = {}
            started = time.monotonic()
            try:
                if step[1] == "answer":
                    record["add"] = lookup(group, "add").call(2, 3)
                    record["bump"] = lookup(group, "bump").call()
                    record["ping"] = group.ask("ping")
                elif step[1] == "crash":
                    lookup(group, "crash").call()
                elif step[1] == "hang":
                    lookup(group, "hang").call()
                elif step[1] == "stale":
                    run.send({"group": index - 1, "request": {"op": "name", "name": "state"}})
                    run.send({"group": "nonsense", "request": {"op": "ping"}})
                    record["first answer"] = lookup(group, "add")
                group.ask("done")
            except ProbeUnavailable:
                pass
            record["done"] = group.ended or run.event("tests_done", timeout=60)
            record["seconds"] = time.monotonic() - started
            seen["groups"][step[1]] = record
        seen["finished"] = run.event("finished", timeout=30)
        run.process.wait(timeout=30)
        seen["returncode"] = run.process.returncode
    finally:
        run.close()
    return seen


def test_outputs_are_recorded_as_a_notebook_shows_them(conversation):
    done = conversation["cells"]["streams"]
    assert done["error"] is None
    assert done["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        {"output_type": "stream", "name": "stderr", "text": "careful\n"},
        {"output_type": "execute_result", "data": {"text/plain": "2"}, "metadata": {},
         "execution_count": None}]


def test_active_outputs_are_reduced_to_text_and_checked_images(conversation):
    outputs = conversation["cells"]["rich"]["outputs"]
    assert all(set(o["data"]) <= set(KEPT_MIMETYPES) for o in outputs)
    kinds = [(o["output_type"], sorted(o["data"])) for o in outputs]
    assert kinds == [("display_data", ["text/plain"])] * 4 + [
        ("display_data", ["image/png", "text/plain"]),
        ("display_data", ["text/plain"]),  # the fake PNG dropped, its text kept
        ("execute_result", ["text/plain"])]  # the HTML-only display is gone entirely
    assert outputs[4]["data"]["image/png"] == PNG
    assert outputs[5]["data"] == {"text/plain": "fake"}
    assert outputs[6]["data"] == {"text/plain": "a page"}
    text = repr(outputs)
    assert "alert" not in text and "<script" not in text and "onerror" not in text


def test_the_output_of_a_cell_is_capped(conversation):
    for name in ("flood", "huge line"):
        outputs = conversation["cells"][name]["outputs"]
        kept = sum(len(o.get("text", "")) for o in outputs if o["name"] == "stdout")
        assert kept <= OUTPUT_LIMIT
        notes = [o for o in outputs if o["name"] == "stderr"]
        assert len(notes) == 1 and TRUNCATED in notes[0]["text"]
    flood = conversation["cells"]["flood"]["outputs"]
    assert flood[0]["text"].startswith("y" * 999) and len(flood[0]["text"]) > 900_000
    huge = conversation["cells"]["huge line"]["outputs"]
    assert "z" * 100 not in repr(huge)  # one write larger than the cap is dropped whole
    assert "after" not in repr(huge)  # and, once cut, the rest too
    assert huge[-1]["name"] == "stderr"


def test_an_error_is_recorded_with_its_traceback(conversation):
    done = conversation["cells"]["error"]
    assert done["error"]["ename"] == "ZeroDivisionError"
    error = [o for o in done["outputs"] if o["output_type"] == "error"]
    assert len(error) == 1 and error[0]["ename"] == "ZeroDivisionError"
    assert any("broken" in line for line in error[0]["traceback"])


def test_a_cell_that_overruns_is_stopped_at_its_limit(conversation):
    done = conversation["cells"]["timeout"]
    assert f"ran for more than {CELL_TIMEOUT} s" in done["error"]["evalue"]
    # the limit counts CPU seconds: a loaded machine stretches them, at most WALL_FACTOR-fold
    assert CELL_TIMEOUT - 0.5 <= done["seconds"] < CELL_TIMEOUT * runner.WALL_FACTOR + 5
    assert any(o["output_type"] == "error" for o in done["outputs"])
    assert conversation["cells"]["still alive"]["outputs"][0]["text"] == "still here\n"


def test_a_test_group_is_served_by_a_child_whose_changes_do_not_leak(conversation):
    group = conversation["groups"]["answer"]
    assert group["add"] == {"ok": 5}
    assert group["bump"] == {"ok": 2}  # the child changed its copy of the state
    assert group["ping"] == {"ok": "pong"}
    assert group["done"]["status"] == "ok"
    assert conversation["cells"]["after group"]["outputs"][0]["text"] == "1\n"


def test_a_crash_in_a_test_group_is_reported_as_crashed(conversation):
    assert conversation["groups"]["crash"]["done"]["status"] == "crashed"


def test_a_hang_in_a_test_group_is_killed_within_its_budget(conversation):
    group = conversation["groups"]["hang"]
    assert group["done"]["status"] == "killed"
    assert group["seconds"] < HANG_BUDGET * runner.WALL_FACTOR + 3
    assert group["done"]["seconds"] <= HANG_BUDGET * runner.WALL_FACTOR + 1


def test_stale_requests_of_an_earlier_group_are_skipped(conversation):
    group = conversation["groups"]["stale"]
    assert isinstance(group["first answer"], Remote) and group["first answer"].name == "add"
    assert group["done"]["status"] == "ok"


def test_the_runner_finishes_the_plan_and_exits(conversation):
    assert conversation["finished"] == {"event": "finished"}
    assert conversation["returncode"] == 0


def test_a_plan_that_is_not_a_plan_is_reported_as_failed(tmp_path):
    run = Runner([sys.executable, "-m", "cnncourse.probe.runner"], plain_env(tmp_path),
                 tmp_path / "log")
    try:
        run.send({"limits": {"cell_timeout": "soon"}, "steps": []})
        failed = run.event("failed", timeout=120)
        assert failed["error"].startswith("ValueError")
    finally:
        run.close()


def test_inert_keeps_text_and_real_images_only():
    png = base64.b64decode(PNG)
    assert inert({"text/plain": "t", "image/png": png, "text/html": "<b>"}) == {
        "text/plain": "t", "image/png": PNG}
    assert inert({"image/png": "!!not base64!!"}) == {}
    assert inert({"image/jpeg": base64.b64encode(png).decode()}) == {}  # not a JPEG
    assert inert({"image/jpeg": base64.b64encode(b"\xff\xd8\xff rest").decode()}) == {
        "image/jpeg": base64.b64encode(b"\xff\xd8\xff rest").decode()}
    too_big = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(IMAGE_LIMIT)).decode()
    assert inert({"image/png": too_big}) == {}
    assert inert("<script>") == {} and inert({"text/plain": 3}) == {}


# --------------------------------------------------------------------------- in bubblewrap
def test_the_runner_works_inside_bubblewrap(tmp_path):
    problem = availability()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    view = build_view(tmp_path / "view", ["from cnncourse.checks.toy import check_add"]).parent
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "data.txt").write_text("from the submission")
    command, env = runner_command(view, submission, Limits(cell_timeout=20), tmp_path / "work")
    run = Runner(command, env, tmp_path / "log")
    try:
        run.send({"limits": {"cell_timeout": 20, "memory_mb": 4096, "file_mb": 16,
                             "threads": 1, "processes": 0},
                  "steps": [{"kind": "student", "source": "import os\n"
                             "print(open('data.txt').read(), os.getuid())\n"
                             "def add(a, b):\n    return a + b\n"},
                            {"kind": "tests", "budget": 30}]})
        run.event("ready", timeout=120)
        run.event("cell")
        done = run.event("cell_done", timeout=60)
        assert done["outputs"][0]["text"] == "from the submission 65534\n"
        run.event("tests")
        group = Group(run, 1)
        assert lookup(group, "add").call(20, 22) == {"ok": 42}
        group.ask("done")
        assert run.event("tests_done")["status"] == "ok"
        run.event("finished")
    finally:
        run.close()
