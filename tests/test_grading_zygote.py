"""The sandbox zygote (``cnncourse.grading.zygote``, ``cnncourse/probe/zygote.py``): one
bubblewrap sandbox that has imported torch once and forks each submission's runner into
namespaces of its own.

Submissions run through one zygote, one after another and one while another is still
alive, each look around from a cell: only their own processes (PID 1 and the runner),
nothing to signal or trace outside, their own files in an otherwise empty folder, none of
what the one before left, no capability, nowhere else to write, no network. What a
submission leaves running is gone when its run ends; a submission that loops with the
time limits ignored is ended by the grader's deadline and the next one grades; a dead
zygote means a sandbox of its own, said in the log. Without bubblewrap the tests are
skipped, except under CI, where they fail."""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from pathlib import Path

import nbformat
import pytest

from cnncourse.cli import main
from cnncourse.grading import sandbox, session
from cnncourse.grading.plan import Step
from cnncourse.grading.sandbox import Limits, availability, runner_command
from cnncourse.grading.session import ZygoteRun, ZygoteSession, run_notebook
from cnncourse.grading.view import PACKAGE, build_view
from cnncourse.grading.zygote import Zygote, ZygoteFailed, setup_message
from tests.test_grading import FIXTURE, answered, make_course, read_csv, submit
from tests.test_grading_session import pinging_judge, processes_with

LIMITS = Limits(cell_timeout=30, disk_mb=8, file_mb=3)

LOOK = r"""
import ctypes, errno, importlib.util, json, os, signal, socket, subprocess, sys
seen = {"uid": os.getuid(), "gid": os.getgid(), "cwd": os.getcwd(), "pid": os.getpid(),
        "init": open("/proc/1/cmdline", "rb").read().split(b"\0")[:4],
        "workdir": sorted(os.listdir(".")), "shm": sorted(os.listdir("/dev/shm")),
        "tmp": sorted(os.listdir(os.environ["TMPDIR"])),
        "submission": sorted(os.listdir(SUBMISSION)), "hostname": socket.gethostname(),
        "stub": importlib.util.find_spec("cnncourse.checks.toy") is not None}
seen["init"] = [part.decode() for part in seen["init"]]
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
seen["caps"] = {k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd",
                                              "CapAmb", "NoNewPrivs")}
seen["processes"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
seen["threads"] = sorted(int(t) for t in os.listdir("/proc/self/task"))  # IPython's too
reachable = []
for pid in list(range(1, 32769)) + OTHERS:  # every pid there is (pid_max is 32768 or more)
    try:
        os.kill(pid, 0)
        reachable.append(pid)
    except ProcessLookupError:
        pass
    except PermissionError:
        reachable.append(pid)
seen["reachable"] = sorted(set(reachable))
seen["others"] = {}
for pid in OTHERS:  # the zygote and another submission's PID 1, by their pids outside
    try:
        os.kill(pid, signal.SIGKILL)
        seen["others"][str(pid)] = "signalled"
    except OSError as error:
        seen["others"][str(pid)] = error.errno
libc = ctypes.CDLL(None, use_errno=True)
seen["ptrace init"] = 0 if libc.ptrace(16, 1, 0, 0) == 0 else ctypes.get_errno()
try:
    open("/proc/1/environ", "rb").read()
    seen["init environ"] = "read"
except OSError as error:
    seen["init environ"] = error.errno
os.kill(1, signal.SIGKILL)  # PID 1 of a namespace ignores it from inside
written = {}
for path in ("/tmp/x", "/sandbox/x", "/x", "/dev/x", "/proc/sys/kernel/hostname",
             SUBMISSION + "/x", CHECKS + "/x", "/usr/x"):
    try:
        with open(path, "w") as f:
            f.write("x")
        written[path] = "written"
    except OSError as error:
        written[path] = error.errno
seen["written"] = written
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=3).close()
    seen["network"] = "connected"
except OSError as error:
    seen["network"] = error.errno
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen()
socket.create_connection(server.getsockname(), timeout=3).close()
seen["loopback"] = "up"
chunk = b"x" * ((FILE_MB - 1) << 20)  # files below file_mb, together above disk_mb
try:
    for i in range(DISK_MB):
        with open(f"part{i}.bin", "wb") as f:
            f.write(chunk)
    seen["disk"] = "written"
except OSError as error:
    seen["disk"] = error.errno
for i in range(DISK_MB):
    if os.path.exists(f"part{i}.bin"):
        os.remove(f"part{i}.bin")
try:
    with open("big.bin", "wb") as f:
        f.write(chunk * 2)
    seen["big file"] = "written"
except OSError as error:
    seen["big file"] = error.errno
os.remove("big.bin")
for path in ("left.txt", "/dev/shm/left", os.path.join(os.environ["TMPDIR"], "left")):
    open(path, "w").write("left by the one before")
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", TOKEN])
    os._exit(0)
os.waitpid(pid, 0)
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def zygote():
    problem = availability()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"the grading sandbox must work under CI: {problem}")
        pytest.skip(problem)
    started = Zygote()
    yield started
    started.stop()


def zygote_pids(zygote: Zygote) -> list[int]:
    """The zygote's own process (outside pids): the Python under its bubblewrap, not a child
    (waiting for it to start, if need be). Another zygote (the grading workers' fork
    server's) may be alive beside it."""
    deadline = time.monotonic() + 20
    while not (found := _zygote_pids(zygote.process.pid)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


def _parent(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("\nPPid:\t")[1].split()[0])


def _zygote_pids(bwrap: int) -> list[int]:
    found = []
    for pid in processes_with("cnncourse.probe.zygote"):
        try:  # bwrap, its PID 1, the zygote
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            if b"bwrap" not in argv[0] and _parent(_parent(pid)) == bwrap:
                found.append(pid)
        except (OSError, IndexError, ValueError):
            continue
    return found


def submission(tmp: Path, name: str, files: dict[str, str], setup: list[str]
               ) -> tuple[Path, Path]:
    folder = tmp / name
    folder.mkdir()
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder, build_view(tmp / f"{name}-view", setup).parent


def look(zygote: Zygote, tmp: Path, name: str, files: dict[str, str], setup: list[str],
         others: list[int], port: int) -> dict:
    """One submission's run of LOOK through ``zygote``; what it saw, its log, survivors."""
    folder, view = submission(tmp, name, files, setup)
    token = f"cnncourse-zygote-test-{secrets.token_hex(8)}"
    source = LOOK
    for key, value in (("OTHERS", repr(others)), ("PORT", str(port)), ("TOKEN", repr(token)),
                       ("SUBMISSION", repr(sandbox.SUBMISSION)), ("DISK_MB", "8"),
                       ("FILE_MB", "3"), ("CHECKS", repr(str(PACKAGE / "checks")))):
        source = source.replace(key, value)
    steps = [Step("student", source, 1), Step("tests", tests=(("a_test", "check(a)", 2),))]
    command, env = runner_command(view, folder, LIMITS, tmp / f"{name}-work")
    record = run_notebook(steps, command, env, LIMITS, pinging_judge, tmp / f"{name}.log",
                          ZygoteRun(zygote, view, folder))
    ended = time.monotonic()
    survivors = processes_with(token)
    while survivors and time.monotonic() < ended + 5:
        time.sleep(0.1)
        survivors = processes_with(token)
    for pid in survivors:
        os.kill(pid, 9)
    cell = record.cells.get(0) or {}
    assert cell.get("error") is None, (cell, record.notes, record.log)
    stdout = "".join(o.get("text", "") for o in cell["outputs"] if o.get("name") == "stdout")
    return {"seen": json.loads(stdout.strip().splitlines()[-1]), "record": record,
            "survivors": survivors}


@pytest.fixture(scope="module")
def two(zygote, tmp_path_factory):
    """Two submissions in a row through one zygote; the second while a third is alive."""
    tmp = tmp_path_factory.mktemp("zygote")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    own = zygote_pids(zygote)
    first = look(zygote, tmp, "first", {"answer.txt": "the first's"},
                 ["from cnncourse.checks.toy import check_add"], [], port)
    holder_folder, holder_view = submission(tmp, "holder", {"h.txt": "h"}, [])
    holder = ZygoteSession(zygote, holder_view, holder_folder, LIMITS, tmp / "holder.log",
                           time.monotonic() + 120)
    try:
        holder.send({"limits": {"cell_timeout": 100}, "steps": [
            {"kind": "student", "source": "import time\ntime.sleep(90)"}]})
        holder.event(time.monotonic() + 60, "ready")
        second = look(zygote, tmp, "second", {"second.txt": "the second's"}, [],
                      own + [holder.pid], port)
        holder_alive = os.path.exists(f"/proc/{holder.pid}")
    finally:
        holder.close()
        listener.close()
    return {"first": first, "second": second, "zygote": own, "zygote object": zygote,
            "holder": holder,
            "holder alive": holder_alive}


def test_the_zygote_runs_them_and_is_one_process(two):
    assert len(two["zygote"]) == 1
    for run in ("first", "second"):
        record = two[run]["record"]
        assert record.finished and record.notes == [], (record.notes, record.log)
        assert "zygote:" not in record.log  # no fallback
        assert "cnncourse.probe.zygote" in " ".join(two[run]["seen"]["init"])
        assert record.tests["a_test"].passed  # the judge reached a test group's child
    assert zygote_pids(two["zygote object"]) == two["zygote"]  # still the same one, alive


def test_each_sees_only_its_own_processes_and_can_reach_no_other(two):
    for run in ("first", "second"):
        seen = two[run]["seen"]
        assert seen["pid"] == 2 and seen["processes"] == [1, 2]
        assert seen["reachable"] == sorted({1} | set(seen["threads"]))
        assert seen["ptrace init"] != 0 and seen["init environ"] != "read"
    # the zygote and a live submission's PID 1, named by their pids outside
    assert two["holder alive"]
    others = two["second"]["seen"]["others"]
    assert len(others) == 2 and set(others.values()) == {3}  # ESRCH: not there for it


def test_each_has_a_fresh_folder_with_only_its_files(two):
    first, second = two["first"]["seen"], two["second"]["seen"]
    assert first["cwd"] == second["cwd"] == sandbox.WORKDIR
    assert first["submission"] == ["answer.txt"] and second["submission"] == ["second.txt"]
    assert set(first["workdir"]) - {".tmp", ".ipython"} == {"answer.txt"}
    assert set(second["workdir"]) - {".tmp", ".ipython"} == {"second.txt"}
    assert first["shm"] == second["shm"] == [] and first["tmp"] == second["tmp"] == []
    assert first["stub"] is True and second["stub"] is False  # each its own view


def test_nothing_but_its_folder_is_writable_and_the_folder_is_capped(two):
    import errno

    for run in ("first", "second"):
        seen = two[run]["seen"]
        assert all(e in (errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOENT)
                   for e in seen["written"].values()), seen["written"]
        assert seen["disk"] == errno.ENOSPC and seen["big file"] == errno.EFBIG


def test_it_has_no_capability_no_network_and_runs_as_nobody(two):
    for run in ("first", "second"):
        seen = two[run]["seen"]
        assert (seen["uid"], seen["gid"]) == (sandbox.NOBODY, sandbox.NOBODY)
        assert seen["caps"] == {"CapInh": "0" * 16, "CapPrm": "0" * 16, "CapEff": "0" * 16,
                                "CapBnd": "0" * 16, "CapAmb": "0" * 16, "NoNewPrivs": "1"}
        assert seen["network"] != "connected" and seen["loopback"] == "up"
        assert seen["hostname"] == "grader"


def test_what_it_leaves_running_is_gone_when_it_ends(two):
    assert two["first"]["survivors"] == [] and two["second"]["survivors"] == []
    time.sleep(0.5)
    assert not os.path.exists(f"/proc/{two['holder'].pid}/status") or \
        "zombie" in Path(f"/proc/{two['holder'].pid}/status").read_text()


def test_a_loop_that_ignores_its_alarms_is_ended_by_the_grader_and_the_next_grades(
        zygote, tmp_path, monkeypatch):
    monkeypatch.setattr(session, "GRACE_S", 2.0)
    limits = Limits(cell_timeout=1)
    name = f"zyg{secrets.token_hex(5)}"  # its comm, as the host sees it
    loop = ("import ctypes, signal\n"
            f"ctypes.CDLL(None).prctl(15, ctypes.c_char_p({name.encode()!r}), 0, 0, 0)\n"
            "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGPROF, signal.SIG_IGN)\n"
            "while True:\n    pass\n")
    folder, view = submission(tmp_path, "loops", {"a.txt": "a"}, [])
    command, env = runner_command(view, folder, limits, tmp_path / "work")
    steps = [Step("student", loop, 1), Step("tests", tests=(("a_test", "check(a)", 2),))]
    started = time.monotonic()
    record = run_notebook(steps, command, env, limits, pinging_judge, tmp_path / "loop.log",
                          ZygoteRun(zygote, view, folder))
    seconds = time.monotonic() - started
    assert "zygote:" not in record.log
    assert record.notes and "stopped after its time limit" in record.notes[0]
    assert seconds < limits.cell_timeout * session.WALL_FACTOR + session.GRACE_S + 15
    comms = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comms.append((entry / "comm").read_text().strip())
            except OSError:
                continue
    assert name not in comms
    # the next submission, through the same zygote
    folder, view = submission(tmp_path, "next", {"b.txt": "b"}, [])
    steps = [Step("student", "print(open('b.txt').read())", 1),
             Step("tests", tests=(("a_test", "check(a)", 2),))]
    record = run_notebook(steps, command, env, limits, pinging_judge, tmp_path / "next.log",
                          ZygoteRun(zygote, view, folder))
    assert record.finished and record.tests["a_test"].passed and "zygote:" not in record.log
    assert record.cells[0]["outputs"][0]["text"] == "b\n"


def test_a_dead_zygote_means_a_sandbox_of_its_own_said_in_the_log(zygote, tmp_path):
    doomed = Zygote()
    try:
        folder, view = submission(tmp_path, "s", {"a.txt": "from the submission"}, [])
        # a live submission of the zygote's ends with it
        holder = ZygoteSession(doomed, view, folder, LIMITS, tmp_path / "holder.log",
                               time.monotonic() + 120)
        holder.send({"limits": {"cell_timeout": 100}, "steps": [
            {"kind": "student", "source": "import time\ntime.sleep(90)"}]})
        holder.event(time.monotonic() + 60, "ready")
        doomed.process.kill()
        doomed.process.wait()
        deadline = time.monotonic() + 10
        while os.path.exists(f"/proc/{holder.pid}") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{holder.pid}")
        holder.close()
        command, env = runner_command(view, folder, LIMITS, tmp_path / "work")
        steps = [Step("student", "print(open('a.txt').read(), open('/proc/1/comm').read())",
                      1), Step("tests", tests=(("a_test", "check(a)", 2),))]
        record = run_notebook(steps, command, env, LIMITS, pinging_judge,
                              tmp_path / "runner.log", ZygoteRun(doomed, view, folder))
        assert record.finished and record.tests["a_test"].passed
        assert record.cells[0]["outputs"][0]["text"] == "from the submission bwrap\n\n"
        assert "zygote: the zygote is gone" in record.log
        assert "a sandbox of its own" in record.log
        with pytest.raises(ZygoteFailed):
            ZygoteSession(doomed, view, folder, LIMITS, tmp_path / "again.log",
                          time.monotonic() + 5)
    finally:
        doomed.stop()


def test_no_zygote_is_said_in_the_log_too(tmp_path):
    if availability():
        pytest.skip("bubblewrap missing")
    folder, view = submission(tmp_path, "s", {"a.txt": "x"}, [])
    command, env = runner_command(view, folder, LIMITS, tmp_path / "work")
    record = run_notebook([Step("student", "print(1)", 1)], command, env, LIMITS,
                          pinging_judge, tmp_path / "runner.log",
                          ZygoteRun(None, view, folder, "it could not start: test"))
    assert record.finished and "zygote: none (it could not start: test)" in record.log


def test_the_setup_names_its_files_and_stubs_only(tmp_path):
    folder, view = submission(tmp_path, "s", {"a.txt": "A", "b.txt": "B"},
                              ["from cnncourse.checks.toy import check_add"])
    (folder / "sub").mkdir()
    (folder / "sub" / "c.txt").write_text("C")
    message = setup_message(view, folder, LIMITS, [])
    body = message.body
    assert body["files"] == ["a.txt", "b.txt", "sub/c.txt"]
    assert body["stubs"] == ["__init__.py", "toy.py"]
    assert message.blobs[:3] == [b"A", b"B", b"C"]
    assert body["disk_mb"] == LIMITS.disk_mb and body["workdir"] == sandbox.WORKDIR
    assert set(body["env"]) == set(sandbox.environment(LIMITS, "", ""))


def test_the_zygote_command_is_the_runners_sandbox_without_a_submission(tmp_path):
    if availability():
        pytest.skip("bubblewrap missing")
    command, env, hidden = sandbox.zygote_command(tmp_path, 7, LIMITS)
    joined = " ".join(command)
    for flag in ("--unshare-all", "--unshare-user", "--die-with-parent", "--new-session",
                 "--cap-drop ALL", f"--uid {sandbox.NOBODY}", "--remount-ro /",
                 f"--ro-bind {tmp_path / 'cnncourse'} {PACKAGE}"):
        assert flag in joined
    assert "--share-net" not in joined and str(Path.home()) not in command
    assert command[-4:] == [command[command.index("--") + 1], "-m", "cnncourse.probe.zygote",
                            "7"]
    assert "--bind" not in command and "--dev-bind" not in command
    assert hidden == ([sandbox.HOST_PROC] if sandbox.HOST_PROC in command else [])
    assert env["HOME"] == sandbox.WORKDIR


@pytest.mark.slow
def test_cnncourse_grade_forks_its_runners_from_the_fork_servers_zygote(tmp_path):
    if availability():
        pytest.skip("bubblewrap missing")
    root = make_course(tmp_path, FIXTURE, ["toy"])
    assert main(["release", "toy", "--course", str(root)]) == 0
    full, _ = answered(root, "toy")
    full.cells.append(nbformat.v4.new_code_cell("print(open('/proc/1/cmdline').read().split("
                                                "chr(0))[:3])"))
    for student in ("one", "two"):
        submit(root, "toy", student, full)
    assert main(["grade", "toy", "--course", str(root), "--workers", "2"]) == 0
    for student in ("one", "two"):
        graded = nbformat.read(root / "autograded" / student / "toy" / "toy.ipynb", as_version=4)
        printed = "".join(o.get("text", "") for o in graded.cells[-1].outputs)
        assert "cnncourse.probe.zygote" in printed, printed
        log = (root / "reports" / "toy" / "logs" / f"{student}.log").read_text()
        assert "zygote:" not in log
    rows = read_csv(root / "reports" / "toy" / "grades.csv")
    assert [(r["score"], r["max_score"]) for r in rows] == [("5", "5")] * 2


def test_what_a_killed_graders_zygote_left_is_swept_by_the_next(tmp_path, monkeypatch):
    import subprocess
    import sys

    from cnncourse.grading import zygote as zygote_module

    monkeypatch.setattr(zygote_module.tempfile, "gettempdir", lambda: str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    for owner in (gone, str(os.getpid())):
        (tmp_path / f"cnncourse-zygote-{owner}-x" / "view").mkdir(parents=True)
    (tmp_path / "cnncourse-zygote-other").mkdir()
    zygote_module._sweep()
    assert {p.name for p in tmp_path.iterdir()} == {
        "cnncourse-zygote-other", f"cnncourse-zygote-{os.getpid()}-x"}
