"""The operating-system sandbox (``cnncourse.grading.sandbox``): the runner started by
``runner_command`` in bubblewrap runs as nobody, sees none of the course, the repository,
the home or the network, writes only into a private tmpfs of ``disk_mb`` with files of at
most ``file_mb``, finds the probe and the data but not the course's reference code, and
takes every process it started with it when it ends.

One sandboxed run answers every question (a cell records what it sees); without bubblewrap
the test is skipped, except under CI, where it fails."""

from __future__ import annotations

import json
import os
import secrets
import socket
import sys
import time
from pathlib import Path

import pytest

from cnncourse.grading import sandbox
from cnncourse.grading.sandbox import Limits, availability, runner_command
from cnncourse.grading.view import build_view
from tests.test_probe_runner import Group, Runner

REPO = Path(__file__).resolve().parent.parent
LIMITS = Limits(cell_timeout=30, disk_mb=8, file_mb=3, memory_mb=4096)

LOOK_AROUND = r"""
import errno, importlib.util, json, os, socket, sys
seen = {"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(),
        "submission": open("answer.txt").read(),
        "visible": {p: os.path.exists(p) for p in PATHS},
        "home": sorted(os.listdir(HOME)) if os.path.isdir(HOME) else None,
        "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "environment": sorted(os.environ)}
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
    seen["network"] = "connected"
except OSError as error:
    seen["network"] = error.errno
try:
    socket.create_connection(("1.1.1.1", 53), timeout=3).close()
    seen["internet"] = "connected"
except OSError as error:
    seen["internet"] = error.errno
chunk = b"x" * (1 << 20)
try:  # one file larger than file_mb
    with open("big.bin", "wb") as f:
        for _ in range(FILE_MB + 2):
            f.write(chunk)
            f.flush()
    seen["big file"] = "written"
except OSError as error:
    seen["big file"] = error.errno
seen["big file size"] = os.path.getsize("big.bin")
os.remove("big.bin")
written = 0
try:  # many files below file_mb, together larger than disk_mb
    for i in range(DISK_MB + 4):
        with open(f"part{i}.bin", "wb") as f:
            f.write(chunk)
        written += 1
    seen["disk"] = "written"
except OSError as error:
    seen["disk"] = error.errno
seen["disk written"] = written
try:
    open("/tmp/outside.txt", "w").write("x")
    seen["write outside"] = "written"
except OSError as error:
    seen["write outside"] = error.errno
try:  # the folder bwrap made for the working folder's mount lives on its root tmpfs
    open("/sandbox/outside.txt", "w").write("x")
    seen["write beside"] = "written"
except OSError as error:
    seen["write beside"] = error.errno
seen["modules"] = {m: importlib.util.find_spec(m) is not None for m in (
    "cnncourse.models", "cnncourse.ops", "cnncourse.analysis", "cnncourse.checks._core",
    "cnncourse.grading", "cnncourse.probe.wire", "cnncourse.data", "cnncourse.checks.toy")}
import cnncourse.probe.wire, cnncourse.data
from cnncourse.checks.toy import check_add
check_add(None)
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", TOKEN])
    os._exit(0)
os.waitpid(pid, 0)
print(json.dumps(seen))
"""


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


@pytest.fixture(scope="module")
def inside(tmp_path_factory):
    """What a cell sees inside the sandbox, and whether its processes outlived it."""
    problem = availability()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"the grading sandbox must work under CI: {problem}")
        pytest.skip(problem)
    tmp = tmp_path_factory.mktemp("sandbox")
    course = tmp / "course"
    (course / "gradebook").mkdir(parents=True)
    (course / "gradebook.db").write_text("grades")
    submission = tmp / "submission"
    submission.mkdir()
    (submission / "answer.txt").write_text("the submission's own file")
    home = Path(os.path.expanduser("~"))
    paths = [str(course), str(course / "gradebook.db"), str(REPO / "exercises"),
             str(REPO / "exercises" / "source"), str(REPO / "cnncourse" / "models"),
             str(REPO / "tests"), "/root", str(home), str(tmp), "/etc/passwd",
             "/etc/shadow", "/var", sandbox.SUBMISSION]
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    token = f"cnncourse-sandbox-test-{secrets.token_hex(8)}"
    source = LOOK_AROUND
    for key, value in (("PATHS", repr(paths)), ("PORT", str(listener.getsockname()[1])),
                       ("FILE_MB", str(LIMITS.file_mb)), ("DISK_MB", str(LIMITS.disk_mb)),
                       ("TOKEN", repr(token)), ("HOME", repr(str(home)))):
        source = source.replace(key, value)
    view = build_view(tmp / "view", ["from cnncourse.checks.toy import check_add"]).parent
    os.environ["CNNCOURSE_GRADER_SECRET_FOR_TEST"] = "must not leak"
    command, env = runner_command(view, submission, LIMITS, tmp / "work")
    del os.environ["CNNCOURSE_GRADER_SECRET_FOR_TEST"]
    run = Runner(command, env, tmp / "runner.log")
    try:
        run.send({"limits": {"cell_timeout": LIMITS.cell_timeout, "memory_mb": LIMITS.memory_mb,
                             "file_mb": LIMITS.file_mb, "threads": 1,
                             "processes": sandbox.process_allowance(LIMITS)},
                  "steps": [{"kind": "student", "source": source},
                            {"kind": "tests", "budget": 30}]})
        run.event("ready", timeout=120)
        run.event("cell")
        done = run.event("cell_done", timeout=120)
        assert done["error"] is None, done
        run.event("tests")
        group = Group(run, 1)
        answer = group.ask("ping")
        group.ask("done")
        run.event("tests_done")
        run.event("finished")
        run.process.wait(timeout=30)
        ended = time.monotonic()
        survivors = processes_with(token)
        while survivors and time.monotonic() < ended + 5:  # the kernel reaps the namespace
            time.sleep(0.1)
            survivors = processes_with(token)
    finally:
        run.close()
        listener.close()
        for pid in processes_with(token):  # never leave one behind, even when failing
            os.kill(pid, 9)
    stdout = "".join(o.get("text", "") for o in done["outputs"] if o.get("name") == "stdout")
    lines = stdout.strip().splitlines()
    return {"seen": json.loads(lines[-1]), "printed": lines[:-1], "paths": paths, "home": home,
            "survivors": survivors, "ping": answer, "course": course, "tmp": tmp}


def test_availability_says_bubblewrap_works_here():
    assert availability() is None


def test_it_runs_as_nobody_in_its_private_folder(inside):
    seen = inside["seen"]
    assert (seen["uid"], seen["gid"]) == (sandbox.NOBODY, sandbox.NOBODY)
    assert seen["cwd"] == sandbox.WORKDIR
    assert seen["submission"] == "the submission's own file"


def test_the_course_the_repository_and_the_home_are_not_there(inside):
    visible = inside["seen"]["visible"]
    home = inside["home"]
    python = Path(sys.base_prefix).resolve()
    hidden = [p for p in inside["paths"] if p not in ("/etc/passwd", sandbox.SUBMISSION)
              and not python.is_relative_to(p)]  # the interpreter may live under the home
    assert {p: visible[p] for p in hidden} == {p: False for p in hidden}
    assert visible[sandbox.SUBMISSION] is True  # its own files, read-only
    # of the home, at most the way to the interpreter (pyenv, uv) is there, read-only
    entries = inside["seen"]["home"] or []
    assert all(python.is_relative_to(home / entry) for entry in entries), entries
    assert len(entries) <= 1 and len(os.listdir(home)) > len(entries)


def test_nothing_of_the_graders_environment_leaks_in(inside):
    environment = inside["seen"]["environment"]
    assert "CNNCOURSE_GRADER_SECRET_FOR_TEST" not in environment
    assert set(environment) <= set(sandbox.environment(LIMITS, "", "")) | {
        "PWD", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"}  # the last two: the runner's


def test_there_is_no_network(inside):
    assert inside["seen"]["network"] != "connected"
    assert inside["seen"]["internet"] != "connected"


def test_files_are_capped_at_file_mb_and_the_folder_at_disk_mb(inside):
    import errno

    seen = inside["seen"]
    assert seen["big file"] == errno.EFBIG
    assert seen["big file size"] == LIMITS.file_mb << 20
    assert seen["disk"] == errno.ENOSPC
    assert seen["disk written"] < LIMITS.disk_mb + 1
    assert seen["write outside"] in (errno.EROFS, errno.EACCES, errno.ENOENT)
    assert seen["write beside"] in (errno.EROFS, errno.EACCES)
    assert not (inside["tmp"] / "work").exists() or not list((inside["tmp"] / "work")
                                                               .glob("part*.bin"))


def test_the_probe_and_the_data_are_there_the_reference_code_is_not(inside):
    assert inside["seen"]["modules"] == {
        "cnncourse.models": False, "cnncourse.ops": False, "cnncourse.analysis": False,
        "cnncourse.checks._core": False, "cnncourse.grading": False,
        "cnncourse.probe.wire": True, "cnncourse.data": True, "cnncourse.checks.toy": True}
    assert inside["printed"] == ["check_add: self-check skipped while the notebook is graded; "
                                 "the grader checks this part itself (see the test cells)"]
    assert inside["ping"] == {"ok": "pong"}


def test_it_has_its_own_process_namespace_and_takes_every_process_with_it(inside):
    assert len(inside["seen"]["processes"]) <= 4  # bwrap's init, the runner (and its shell)
    assert inside["survivors"] == []


def test_the_command_without_a_sandbox_runs_the_same_program_with_the_view(tmp_path):
    view = tmp_path / "view"
    command, env = runner_command(view, tmp_path / "sub", LIMITS, tmp_path / "work",
                                  sandboxed=False)
    assert command == [sys.executable, "-m", "cnncourse.probe.runner"]
    assert env["PYTHONPATH"] == str(view) and env["CNNCOURSE_WORKDIR"] == str(tmp_path / "work")
    assert (tmp_path / "work" / ".tmp").is_dir()


def test_the_sandboxed_command_binds_the_view_over_the_package(tmp_path):
    if availability():
        pytest.skip("bubblewrap missing")
    command, env = runner_command(tmp_path, tmp_path / "sub", LIMITS, tmp_path / "work")
    joined = " ".join(command)
    assert f"--ro-bind {tmp_path / 'cnncourse'} {sandbox.PACKAGE}" in joined
    assert f"--size {LIMITS.disk_mb << 20} --tmpfs {sandbox.WORKDIR}" in joined
    for flag in ("--unshare-all", "--die-with-parent", "--new-session", "--cap-drop ALL"):
        assert flag in joined
    assert "--share-net" not in joined and str(Path.home()) not in command
    assert env["HOME"] == sandbox.WORKDIR and env["USER"] == "nobody"


def test_a_missing_bubblewrap_is_one_line_saying_how_to_install_it(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    sandbox.availability.cache_clear()
    try:
        problem = sandbox.availability()
        assert problem.startswith("bubblewrap (bwrap) is not installed: install bubblewrap")
        assert "\n" not in problem and "--no-sandbox" in problem
        with pytest.raises(sandbox.SandboxUnavailable):
            runner_command(Path("/v"), Path("/s"), LIMITS, Path("/w"))
    finally:
        sandbox.availability.cache_clear()


def test_limits_describe_memory():
    assert Limits(memory_mb=4096).describe_memory() == "4 GB"
    assert Limits(memory_mb=512).describe_memory() == "512 MB"
    assert sandbox.process_allowance(Limits(processes=10)) >= 11
