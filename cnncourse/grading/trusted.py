"""The grade a submission earns: its code re-run, part by part, where it cannot touch the tests.

nbgrader runs a student's cells and the test cells in one IPython kernel, so a solution
cell can change what the tests see: rebind or patch a checker, ``torch.allclose`` or
``numpy.testing``, install IPython hooks that skip or rewrite later cells, print a fake
score, or behave differently when ``NBGRADER_EXECUTION`` is set. So after (in fact just
before) nbgrader runs the notebook for the feedback, this module grades it again:

1. :func:`trusted_plan` lines the submitted notebook up with the SOURCE notebook: locked
   cells (setup) and test cells (hidden cases included) come from the source, every other
   code cell is the student's code, in the student's order;
2. :func:`run_trusted` forks a *runner* from the grading worker, a process no student code
   has touched, with resource limits (memory, file size, threads, no network where the
   system allows it) and an audit hook that refuses subprocesses, sockets, ctypes,
   tracing, and files outside the submission's own folder. The runner executes the
   cells as plain Python (no IPython: no input transformers, event hooks or exception
   handlers to install), each with a time limit;
3. before each part's test cells the runner forks once more: the child puts back whatever
   the student's code changed in the checkers, torch, numpy, builtins and the names the
   setup cell defined (noting each change), runs that part's test cells from the source,
   checks nothing changed while they ran, and reports pass or fail with the checker's
   message. A crash, hang or memory bomb costs that part only.

The verdict (:class:`TrustedVerdict`) is the grade; nbgrader's own scores only show where
the notebook run and the clean run disagree. What stays possible: Python code in one
process can always reach the runner's memory with enough effort (``gc``, frames); the
operating system's own sandbox (a container per class) is the last line of defence.
"""

from __future__ import annotations

import builtins
import contextlib
import dataclasses
import io
import json
import os
import select
import signal
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from cnncourse.grading.cells import cells_by_grade_id, grade_id, is_locked, is_test_cell, part_of
from cnncourse.grading.limits import Limits, apply_limits, isolate_network

# What a student's code may import from the course package: the checkers and the data
# loaders (the problem sets' rules); everything else in ``cnncourse`` is the reference.
ALLOWED_COURSE_MODULES = ("cnncourse.checks", "cnncourse.data")
# Modules whose functions the tests rely on; changes to them are undone before each part
# and reported. ``cnncourse.*`` (checkers, references, this module) is added when loaded.
PROTECTED_MODULES = ("builtins", "math", "os", "json", "signal", "io", "torch",
                     "torch.nn.functional", "torch.testing", "numpy", "numpy.testing")
PROTECTED_CLASSES = ("torch.Tensor", "torch._C.TensorBase", "torch.nn.Module")
MAX_OUTPUT_CHARS = 20_000  # per cell, in the report; the rest is dropped
GRACE_S = 5.0  # on top of the cells' own limits, before the runner is killed


@dataclass(frozen=True)
class PlanCell:
    kind: str  # "setup" (locked, from the source), "student", or "test" (from the source)
    source: str
    grade_id: str | None
    position: int | None  # 1-based position in the submitted notebook (None: restored)


@dataclass
class TestOutcome:
    passed: bool
    message: str = ""  # the error, for a failed test cell
    output: str = ""  # what it printed


@dataclass
class TrustedVerdict:
    """What the clean re-run found: per test cell, and notes for the instructor."""

    tests: dict[str, TestOutcome] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # tampering, crashes, time-outs
    tampered: bool = False  # a note says the student's code changed what the tests use
    network_isolated: bool = False
    timeouts: list[int] = field(default_factory=list)  # positions of cells stopped
    seconds: float = 0.0


# ------------------------------------------------------------------------------------ plan
def trusted_plan(source: nbformat.NotebookNode, submitted: nbformat.NotebookNode,
                 ) -> list[PlanCell]:
    """The cells to run: the student's code in their order, locked and test cells from
    the source; locked cells the student deleted go first, test cells last."""
    trusted = cells_by_grade_id(source)
    tests = {gid for gid, (_, cell) in trusted.items() if is_test_cell(cell)}
    locked = {gid for gid, (_, cell) in trusted.items()
              if is_locked(cell) and cell.cell_type == "code" and gid not in tests}
    plan: list[PlanCell] = []
    seen: set[str] = set()
    for position, cell in enumerate(submitted.cells, start=1):
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        if gid in (tests | locked) and gid not in seen:
            seen.add(gid)
            kind = "test" if gid in tests else "setup"
            plan.append(PlanCell(kind, trusted[gid][1].source, gid, position))
        else:  # the student's own, duplicated cells and cells without metadata included
            plan.append(PlanCell("student", cell.source, None, position))
    missing_setup = [PlanCell("setup", trusted[g][1].source, g, None)
                     for g in sorted(locked - seen, key=lambda g: trusted[g][0])]
    missing_tests = [PlanCell("test", trusted[g][1].source, g, None)
                     for g in sorted(tests - seen, key=lambda g: trusted[g][0])]
    return missing_setup + plan + missing_tests


def grouped_tests(plan: list[PlanCell]) -> list[tuple[int, list[PlanCell]]]:
    """(index of the first cell, the cells) for each run of test cells of one part."""
    groups: list[tuple[int, list[PlanCell]]] = []
    for index, cell in enumerate(plan):
        if cell.kind != "test":
            continue
        last = groups[-1] if groups else None
        if (last and last[0] + len(last[1]) == index
                and part_of(last[1][-1].grade_id) == part_of(cell.grade_id)):
            last[1].append(cell)
        else:
            groups.append((index, [cell]))
    return groups


# ------------------------------------------------------------------------------------ the runner
class CellTimeout(BaseException):
    """A cell ran out of time (a BaseException: ``except Exception`` does not swallow it)."""


class _CappedText(io.TextIOBase):
    """A stdout that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int = MAX_OUTPUT_CHARS) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0
        self.limit = limit

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            self.parts.append(text[:room])
            self.size += min(len(text), room)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        extra = f"\n... {self.dropped} more characters of output dropped" if self.dropped else ""
        return "".join(self.parts) + extra


class _Anything:
    """Absorbs whatever is done to it (``shell.events.register(...)``): a harmless no-op."""

    def __getattr__(self, name):
        return self

    def __call__(self, *args, **kwargs):
        return self

    def __iter__(self):
        return iter(())


class _Shell:
    """``get_ipython()`` for the re-run: magics run their cell body or do nothing, and the
    hooks IPython offers (which could change or skip later cells) are noted, not run."""

    BODY_MAGICS = {"time", "timeit", "capture", "prun"}
    HOOKS = ("input_transformers_post", "input_transformers_cleanup", "input_transformer_manager",
             "ast_transformers", "events", "set_custom_exc", "register_post_execute",
             "set_hook", "showtraceback", "displayhook", "display_pub", "run_cell",
             "register_magic_function", "ex", "ev")

    def __init__(self, namespace: dict, suspicious: list[str]) -> None:
        self.user_ns = namespace
        self._suspicious = suspicious

    def run_line_magic(self, *args, **kwargs):
        return None

    def run_cell_magic(self, name, line, body):
        if name in self.BODY_MAGICS:
            exec(compile(_python(body), "<cell>", "exec"), self.user_ns)  # noqa: S102

    def system(self, *args, **kwargs):
        return None

    getoutput = system

    def __getattr__(self, name):  # anything else IPython offers: a harmless no-op
        if name in self.HOOKS:
            self._suspicious.append(f"uses get_ipython().{name} (IPython hooks do not run "
                                    "when grading)")
        return _Anything()


def _python(source: str) -> str:
    """A cell's source as plain Python (``%magic`` and ``!cmd`` become calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _protected_modules() -> dict[str, types.ModuleType]:
    found = {name: sys.modules[name] for name in PROTECTED_MODULES if name in sys.modules}
    found.update({name: module for name, module in list(sys.modules.items())
                  if (name == "cnncourse" or name.startswith("cnncourse."))
                  and isinstance(module, types.ModuleType)})
    return found


def _protected_classes() -> dict[str, type]:
    classes = {}
    for path in PROTECTED_CLASSES:
        module_name, _, attr = path.rpartition(".")
        owner = sys.modules.get(module_name)
        obj = getattr(owner, attr, None) if owner is not None else None
        if isinstance(obj, type):
            classes[path] = obj
    return classes


@dataclass
class _Snapshot:
    """Everything the tests rely on, as it was before any student code ran."""

    modules: dict[str, tuple[types.ModuleType, dict]]
    classes: dict[str, tuple[type, dict]]
    codes: dict[int, tuple[types.FunctionType, object, tuple, dict]]
    setup_names: dict[str, object]
    builtins_copy: dict[str, object]

    @classmethod
    def take(cls, namespace_builtins: dict) -> _Snapshot:
        modules = {n: (m, {k: v for k, v in vars(m).items() if _tracked(v)})
                   for n, m in _protected_modules().items()}
        classes = {n: (c, dict(vars(c))) for n, c in _protected_classes().items()}
        codes = {}
        for _, values in modules.values():
            for value in values.values():
                if isinstance(value, types.FunctionType):
                    codes[id(value)] = (value, value.__code__, value.__defaults__,
                                        value.__kwdefaults__)
        return cls(modules, classes, codes, {}, dict(namespace_builtins))

    def restore(self, namespace: dict, _builtins: dict = builtins.__dict__,
                _modules: dict = sys.modules) -> list[str]:
        """Undo every change; what was changed, as the student would name it.

        The builtins come back first, with dict operations only (the defaults were bound
        when this module was imported, and the audit hook refuses new ``__defaults__``), so
        a replaced ``vars`` or ``setattr`` cannot fool what follows."""
        changed: list[str] = []
        for key, value in self.modules["builtins"][1].items():
            if _builtins.get(key, _MISSING) is not value:
                _builtins[key] = value
                changed.append(f"builtins.{key}")
        for name, (module, saved) in self.modules.items():
            current = module.__dict__
            if _modules.get(name) is not module:
                _modules[name] = module
                changed.append(f"sys.modules[{name!r}]")
            for key, value in saved.items():
                if current.get(key, _MISSING) is not value:
                    current[key] = value
                    if not key.startswith("__"):
                        changed.append(f"{name}.{key}")
        for name, (cls, saved) in self.classes.items():
            current = dict(vars(cls))
            for key in set(current) | set(saved):
                if current.get(key, _MISSING) is not saved.get(key, _MISSING):
                    with contextlib.suppress(AttributeError, TypeError):
                        if key in saved:
                            setattr(cls, key, saved[key])
                        else:
                            delattr(cls, key)
                    changed.append(f"{name}.{key}")
        for fn, code, defaults, kwdefaults in self.codes.values():
            if (fn.__code__ is not code or fn.__defaults__ is not defaults
                    or fn.__kwdefaults__ is not kwdefaults):
                fn.__code__, fn.__defaults__, fn.__kwdefaults__ = code, defaults, kwdefaults
                changed.append(f"{fn.__module__}.{fn.__qualname__}")
        for key, value in self.setup_names.items():
            if namespace.get(key, _MISSING) is not value:
                namespace[key] = value
                changed.append(key)
        student_builtins = namespace.get("__builtins__")
        if student_builtins is not None and isinstance(student_builtins, dict):
            for key, value in self.builtins_copy.items():
                if student_builtins.get(key, _MISSING) is not value:
                    student_builtins[key] = value
                    changed.append(f"builtins.{key}")
        else:
            namespace["__builtins__"] = dict(self.builtins_copy)
            changed.append("__builtins__")
        return sorted(set(changed))


_MISSING = object()


def _tracked(value: object) -> bool:
    """Module entries the tests depend on: functions, classes, modules (data may change)."""
    return callable(value) or isinstance(value, types.ModuleType)


def _guarded_import(original, notes: list[str]):
    """``__import__`` for student cells: the course's reference modules are refused."""
    def guarded(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002
        if level == 0 and (name == "cnncourse" or name.startswith("cnncourse.")) and not (
                name.startswith(ALLOWED_COURSE_MODULES)):
            notes.append(f"imports {name}, the course's reference code (refused)")
            raise ImportError(
                f"{name} is the course's reference code and cannot be imported in your "
                "answer: write the code yourself (the checkers and cnncourse.data may be "
                "imported)")
        return original(name, globals, locals, fromlist, level)
    return guarded


def _audit_hook(workdir: str, blocked_roots: list[str], trusted_code: set[types.CodeType],
                events: list[str]):
    """An audit hook (it cannot be removed once added) for everything the student's code
    must not do in the re-run; ``events`` collects what was refused, for the notes. The
    runner's own few calls (forking a test child, killing one that hangs, asking to die with
    its parent) are recognised by the code object that makes them, which student code cannot
    replace (changing ``__code__`` is refused below)."""
    allowed_writes = (workdir + os.sep, os.devnull)
    abspath, normcase = os.path.abspath, os.path.normcase
    refused = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
               "os.kill", "os.killpg", "signal.pthread_kill", "socket.connect", "socket.bind",
               "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "sys.settrace",
               "sys.setprofile", "os.forkpty", "pty.spawn", "webbrowser.open")

    def refuse(what: str) -> None:
        events.append(what)
        raise PermissionError(f"not allowed while grading: {what}")

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode = args[0], args[1] or "r"
            flags = args[2] if len(args) > 2 else 0
            writing = any(c in str(mode) for c in "wax+") or bool(
                flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC))
            if isinstance(path, int):
                if writing and path > 2:
                    refuse(f"writing to file descriptor {path}")
                return
            if path is None:
                return
            full = normcase(abspath(os.fsdecode(path)))
            if full.startswith(allowed_writes[0]) or full == os.devnull:
                return
            if full.endswith("gradebook.db") or any(
                    full == root or full.startswith(root + os.sep) for root in blocked_roots):
                refuse(f"opening {os.fsdecode(path)} (outside the submission's folder)")
            if writing:
                refuse(f"writing {os.fsdecode(path)} (outside the submission's folder)")
        elif event in ("os.fork", "os.forkpty"):
            if sys._getframe(1).f_code not in trusted_code:
                refuse("starting a process (os.fork)")
        elif event.startswith(refused) or event.startswith("ctypes."):
            if sys._getframe(1).f_code not in trusted_code:
                refuse(event)
        elif event == "object.__setattr__" and args[1] in ("__code__", "__defaults__",
                                                           "__kwdefaults__", "__globals__"):
            module = getattr(args[0], "__module__", "") or ""
            if module.split(".")[0] in ("cnncourse", "torch", "numpy", "builtins"):
                refuse(f"changing {module}.{getattr(args[0], '__qualname__', '?')}"
                       f".{args[1]}")

    return hook


def _on_alarm(signum, frame):
    raise CellTimeout()


def _describe_error(error: BaseException, limits: Limits) -> str:
    if isinstance(error, CellTimeout):
        return (f"CellTimeoutError: this cell ran for more than {limits.cell_timeout} s and "
                "was stopped")
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return text[:MAX_OUTPUT_CHARS]


class _Runner:
    """Runs in the forked runner process: the plan's cells, one test child per part."""

    def __init__(self, plan: list[PlanCell], limits: Limits, report_fd: int) -> None:
        self.plan = plan
        self.limits = limits
        self.report_fd = report_fd
        self.notes: list[str] = []
        self.suspicious: list[str] = []  # what tried to change how cells run or are shown
        self.refused: list[str] = []
        self.namespace: dict = {"__name__": "__main__"}
        self.snapshot: _Snapshot | None = None

    def send(self, record: dict) -> None:
        data = (json.dumps(record) + "\n").encode()
        while data:
            data = data[os.write(self.report_fd, data):]

    def run_cell(self, source: str, capture: _CappedText | None = None) -> str | None:
        """Execute one cell with its time limit; the error it raised, if any."""
        sys.stdout = sys.stderr = capture or _CappedText(0)
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.limits.cell_timeout)
        stream = sys.stdout
        error = None
        try:
            try:
                exec(compile(_python(source), "<cell>", "exec"), self.namespace)  # noqa: S102
            finally:  # the alarm may go off even here: the outer handler catches that too
                signal.setitimer(signal.ITIMER_REAL, 0)
        except BaseException as raised:  # noqa: BLE001 - the student's code may raise anything
            error = _describe_error(raised, self.limits)
        if sys.stdout is not stream or sys.stderr is not stream:
            self.suspicious.append("redirects sys.stdout or sys.stderr")
        if signal.getsignal(signal.SIGALRM) is not _on_alarm:
            self.suspicious.append("changes the handler of SIGALRM (the cells' time limit)")
        return error

    def run_leading_setup(self) -> int:
        """Run the setup cells that come before any student code (imports of torch and the
        checkers, before the audit hook refuses what importing them needs); how many."""
        count = 0
        for cell in self.plan:
            if cell.kind != "setup":
                break
            self._run_setup(cell)
            count += 1
        return count

    def _run_setup(self, cell: PlanCell) -> None:
        before = dict(self.namespace)
        error = self.run_cell(cell.source)
        if error:
            self.notes.append(f"made the locked cell {cell.grade_id} fail ({error[:200]})")
        if self.snapshot is not None:  # a later setup cell: remember what it defines
            self.snapshot.setup_names.update(
                {k: v for k, v in self.namespace.items() if before.get(k) is not v})

    def run(self, start: int = 0) -> None:
        index = start
        groups = dict(grouped_tests(self.plan))
        while index < len(self.plan):
            cell = self.plan[index]
            if cell.kind == "setup":
                self.send({"kind": "cell", "position": cell.position})
                self._run_setup(cell)
                index += 1
                continue
            if self.snapshot is None:
                self._start_student_code()
            if cell.kind == "student":
                self.send({"kind": "cell", "position": cell.position})
                error = self.run_cell(cell.source)
                if error and error.startswith("CellTimeoutError"):
                    self.send({"kind": "timeout", "position": cell.position})
                index += 1
            else:
                group = groups[index]
                self._test_in_child(group)
                index += len(group)
        self.send({"kind": "done", "notes": self.notes, "refused": self.refused,
                   "suspicious": self.suspicious})

    def _start_student_code(self) -> None:
        """Snapshot the trusted state, then arm the guards for the student's code."""
        setup_names = {k: v for k, v in self.namespace.items() if k != "__builtins__"}
        student_builtins = dict(vars(builtins))
        student_builtins["__import__"] = _guarded_import(builtins.__import__, self.notes)
        student_builtins["get_ipython"] = lambda: _Shell(self.namespace, self.suspicious)
        student_builtins["display"] = lambda *objects, **kwargs: print(*objects)
        self.namespace["__builtins__"] = student_builtins
        self.snapshot = _Snapshot.take(student_builtins)
        self.snapshot.setup_names.update(setup_names)

    def _test_in_child(self, group: list[PlanCell]) -> None:
        """Fork; the child restores what the tests rely on and runs them."""
        deadline = self.limits.cell_timeout * len(group) + GRACE_S
        pid = self._fork()
        if pid == 0:
            try:
                die_with_parent()
                self._run_tests(group)
            finally:
                os._exit(0)
        finished = _wait(pid, deadline)
        tests = [c.grade_id for c in group]
        if not finished:
            self.send({"kind": "killed", "tests": tests, "seconds": deadline})
        else:  # only the tests it did not report count: it ended Python before them
            self.send({"kind": "crashed", "tests": tests})

    def _fork(self) -> int:
        return os.fork()

    def _run_tests(self, group: list[PlanCell]) -> None:
        changed = self.snapshot.restore(self.namespace) if self.snapshot else []
        if changed:
            self.send({"kind": "tampered", "when": "before", "part": part_of(group[0].grade_id),
                       "changed": changed})
        for cell in group:
            capture = _CappedText()
            error = self.run_cell(cell.source, capture)
            after = self.snapshot.restore(self.namespace) if self.snapshot else []
            if after:
                self.send({"kind": "tampered", "when": "during", "test": cell.grade_id,
                           "changed": after})
                error = error or "the tested code changed what the test relies on"
            self.send({"kind": "test", "grade_id": cell.grade_id, "passed": error is None,
                       "message": error or "", "output": capture.text()})
        self.send({"kind": "refused", "events": self.refused, "suspicious": self.suspicious})


def _wait(pid: int, seconds: float) -> bool:
    """Wait for a child; kill it after ``seconds``. True when it ended by itself."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return True
        time.sleep(0.01)
    _kill(pid)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    return False


def _kill(pid: int, _waitpid=os.waitpid, _os_kill=os.kill) -> None:
    """SIGKILL ``pid`` if it is a live child of this process (the runner's one allowed
    ``os.kill``: a test child that hangs in compiled code, where no Python-level time limit
    can stop it). The kernel answers ``waitpid`` only for one's own children, so student
    code calling this cannot kill another student's grading; the functions are bound as
    defaults, which the audit hook does not let student code replace."""
    try:
        if _waitpid(pid, os.WNOHANG)[0]:
            return  # it had already ended (and is now reaped)
    except ChildProcessError:
        return  # not ours
    with contextlib.suppress(ProcessLookupError):
        _os_kill(pid, signal.SIGKILL)


_PRCTL: list = []  # libc's prctl, looked up once before the audit hook is armed


def die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (``PR_SET_PDEATHSIG``), so no
    runner or test child outlives the process waiting for it; elsewhere, nothing."""
    with contextlib.suppress(Exception):
        if not _PRCTL:
            import ctypes

            _PRCTL.append(ctypes.CDLL(None, use_errno=True).prctl)
        _PRCTL[0](1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _runner_main(plan: list[PlanCell], limits: Limits, workdir: Path, blocked: list[str],
                 report_fd: int) -> None:
    """Body of the runner process (forked from the grading worker)."""
    die_with_parent()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # anything printed below Python goes nowhere
        os.dup2(devnull, fd)
    os.chdir(workdir)
    os.environ.pop("NBGRADER_EXECUTION", None)
    os.environ.update({"MPLBACKEND": "Agg", "MPLCONFIGDIR": str(workdir / ".config"),
                       "TMPDIR": str(workdir / ".tmp"), "HOME": str(workdir)})
    (workdir / ".tmp").mkdir(exist_ok=True)
    import tempfile

    tempfile.tempdir = str(workdir / ".tmp")
    runner = _Runner(plan, limits, report_fd)
    isolated = isolate_network()
    runner.send({"kind": "network", "isolated": isolated})
    # one thread, whatever the kernel may use: with two, torch starts an OpenMP thread team
    # here, and a test child forked from this process then waits forever in its first
    # convolution for team threads that fork did not copy
    apply_limits(dataclasses.replace(limits, threads=1))
    start = runner.run_leading_setup()
    if "torch" in sys.modules:  # imported later, it rewraps torch.manual_seed: not tampering
        import torch._dynamo  # noqa: F401
    trusted_code = {_Runner._fork.__code__, _kill.__code__, die_with_parent.__code__}
    sys.addaudithook(_audit_hook(str(workdir.resolve()), blocked, trusted_code,
                                 runner.refused))
    runner.run(start)


# ---------------------------------------------------------------------------- the worker side
def run_trusted(plan: list[PlanCell], workdir: Path, limits: Limits,
                blocked: list[Path]) -> TrustedVerdict:
    """Fork the runner, read its reports, and turn them into a verdict (never raises)."""
    started = time.perf_counter()
    workdir.mkdir(parents=True, exist_ok=True)
    if "torch" in sys.modules:  # once here rather than in every runner (see _runner_main)
        import torch._dynamo  # noqa: F401
    read_fd, write_fd = os.pipe()
    blocked_text = [os.path.normcase(str(p.resolve())) for p in blocked]
    pid = os.fork()
    if pid == 0:  # the runner
        os.close(read_fd)
        try:
            _runner_main(plan, limits, workdir, blocked_text, write_fd)
        finally:
            os._exit(0)
    os.close(write_fd)
    records = _read_reports(read_fd, pid, _budget(plan, limits), _quiet_limit(plan, limits))
    verdict = interpret(plan, records, limits)
    verdict.seconds = time.perf_counter() - started
    return verdict


def _budget(plan: list[PlanCell], limits: Limits) -> float:
    """Seconds the whole re-run may take: every cell its limit, plus a grace per part."""
    return limits.cell_timeout * len(plan) + GRACE_S * (len(grouped_tests(plan)) + 2)


def _quiet_limit(plan: list[PlanCell], limits: Limits) -> float:
    """Seconds the runner may go without reporting: it reports as each cell starts and as
    each part's tests end, so only a cell that defeats its own time limit (ignoring the
    alarm, or stuck in compiled code) stays quiet longer."""
    longest = max((len(group) for _, group in grouped_tests(plan)), default=1)
    return limits.cell_timeout * max(longest, 1) + 2 * GRACE_S


def _has_ended(pid: int) -> bool:
    """Whether the child ``pid`` has exited (reaping it if so)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True


def _read_reports(read_fd: int, pid: int, budget: float, quiet: float) -> list[dict]:
    """The runner's JSON lines until it exits, runs out of ``budget`` or stays silent for
    ``quiet`` seconds (then it is killed)."""
    deadline = time.monotonic() + budget
    silent_until = time.monotonic() + quiet
    buffer = b""
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            left = min(deadline, silent_until) - time.monotonic()
            if left <= 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                buffer += b'\n{"kind": "stopped"}\n'
                break
            ready, _, _ = select.select([pipe], [], [], min(left, 1.0))
            if ready:
                chunk = pipe.read(1 << 16)
                if not chunk:
                    break
                buffer += chunk
                silent_until = time.monotonic() + quiet
            elif _has_ended(pid):  # a straggler may hold the pipe open: read what is there
                while select.select([pipe], [], [], 0.2)[0] and (chunk := pipe.read(1 << 16)):
                    buffer += chunk
                break
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
    records = []
    for line in buffer.decode("utf-8", errors="replace").splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            record = json.loads(line)
            if isinstance(record, dict):
                records.append(record)
    return records


def _where(position: int | None) -> str:
    return f"cell {position}" if position else "a cell"


def interpret(plan: list[PlanCell], records: list[dict], limits: Limits) -> TrustedVerdict:
    """Turn the runner's reports into outcomes per test cell and notes an instructor reads."""
    verdict = TrustedVerdict()
    last_cell: int | None = None
    finished = False
    before_parts: dict[str, list[str]] = {}  # what was changed -> parts tested after it
    refused: dict[str, None] = {}  # ordered sets: what the audit hook refused,
    suspicious: dict[str, None] = {}  # and what tried to change how cells run
    for record in records:
        kind = record.get("kind")
        if kind == "network":
            verdict.network_isolated = bool(record.get("isolated"))
        elif kind == "cell":
            last_cell = record.get("position")
        elif kind == "timeout" and record.get("position"):
            verdict.timeouts.append(int(record["position"]))
        elif kind == "test" and record.get("grade_id") not in verdict.tests:
            verdict.tests[record["grade_id"]] = TestOutcome(
                bool(record.get("passed")), str(record.get("message", "")),
                str(record.get("output", "")))
        elif kind == "tampered":
            verdict.tampered = True
            names = ", ".join(record.get("changed", [])[:4])
            if record.get("when") == "before":
                before_parts.setdefault(names, []).append(str(record.get("part")))
            else:
                verdict.notes.append(f"the code tested by {record.get('test')} changed "
                                     f"{names} while it ran: that test scores 0")
        elif kind == "killed":
            for gid in record.get("tests", []):
                verdict.tests.setdefault(gid, TestOutcome(
                    False, f"the test did not finish within {record.get('seconds'):.0f} s "
                    "and was stopped: look for a loop that never ends, or code far slower "
                    "than your self-check run suggests"))
        elif kind == "crashed":
            for gid in record.get("tests", []):
                verdict.tests.setdefault(gid, TestOutcome(
                    False, "the test ended Python before it finished (exit(), os._exit, "
                    "running out of memory or a crash in compiled code)"))
        elif kind == "refused":
            refused.update(dict.fromkeys(record.get("events", [])))
            suspicious.update(dict.fromkeys(record.get("suspicious", [])))
        elif kind == "done":
            finished = True
            verdict.notes += [f"the code {note}"
                              for note in dict.fromkeys(record.get("notes", []))]
            refused.update(dict.fromkeys(record.get("refused", [])))
            suspicious.update(dict.fromkeys(record.get("suspicious", [])))
        elif kind == "stopped":
            verdict.notes.append(f"the clean re-run was stopped after its time limit, in "
                                 f"{_where(last_cell)} (a cell that did not stop at its own "
                                 "limit); the parts after it score 0")
    verdict.notes += [f"the code {note}" for note in suspicious]
    if refused:
        more = f" and {len(refused) - 4} more" if len(refused) > 4 else ""
        verdict.notes.append("refused while grading: " + "; ".join(list(refused)[:4]) + more)
    verdict.tampered |= bool(suspicious or refused)
    for names, parts in before_parts.items():
        verdict.notes.insert(0, f"the student's code changed {names}; put back before the "
                             f"tests of {', '.join(parts)} ran (review it by hand)")
    for cell in plan:
        if cell.kind == "test" and cell.grade_id not in verdict.tests:
            verdict.tests[cell.grade_id] = TestOutcome(False, "not run: the code before it "
                                                       "ended Python" if not finished else
                                                       "not run")
    if not finished and not any("stopped after" in n for n in verdict.notes):
        verdict.notes.append(f"the notebook's code ended Python in {_where(last_cell)} "
                             "(exit(), os._exit, running out of memory or a crash); the parts "
                             "after it score 0")
    return verdict
