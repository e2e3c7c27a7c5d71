"""The operating-system sandbox every submission's code runs in (bubblewrap).

``bwrap`` (Debian's ``bubblewrap``, the sandbox Flatpak uses) starts the notebook runner
(``cnncourse.probe.runner``) in fresh Linux namespaces, as an unprivileged user:

- the system and the Python environment are bound read-only; the real ``cnncourse`` is
  replaced by the sandbox's view of it (``view.py``: the probe and the data, no reference
  code, no judges, no hidden cases);
- the working folder is a private tmpfs of ``disk_mb`` holding a copy of the one
  submission; no course folder (gradebook, source notebooks, other submissions, reports),
  no home, no network (an empty network namespace);
- its own PID namespace, torn down when the runner ends or the grader goes away
  (``--die-with-parent``), so no process the submission starts outlives it;
- memory, file-size and process-count limits, set by the runner before any student code.

:func:`zygote_command` starts the same sandbox without a submission, for the zygote
(``zygote.py``) that forks each submission's runner into namespaces of its own.

Without bubblewrap ``cnncourse grade`` refuses (:func:`availability`), unless asked to grade
without a sandbox, which :func:`runner_command` then does with the same limits but none of
the isolation, and every report says so.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading.view import PACKAGE

INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: "
                "sudo dnf install bubblewrap), or grade with --no-sandbox (not isolated: "
                "every row of the report will say so)")
NOBODY = 65534
WORKDIR = "/sandbox/work"
SUBMISSION = "/sandbox/submission"
HOST_PROC = "/sandbox/.proc"  # the zygote's only: hidden from every submission


@dataclass(frozen=True)
class Limits:
    """What one submission may use while it is graded."""

    cell_timeout: int = 60  # seconds per cell
    memory_mb: int = 4096  # address space (torch alone maps about 1 GB)
    file_mb: int = 64  # largest file it may write
    disk_mb: int = 512  # its private working folder, all files together
    processes: int = 64  # processes it may start
    threads: int = 1  # torch / OpenMP threads

    def describe_memory(self) -> str:
        return f"{self.memory_mb / 1024:g} GB" if self.memory_mb >= 1024 else \
            f"{self.memory_mb} MB"


class SandboxUnavailable(Exception):
    """bubblewrap is missing or cannot create namespaces here."""


@functools.lru_cache(maxsize=1)
def availability() -> str | None:
    """None when bubblewrap works here, else one line saying why not and what to do."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}"
    probe = subprocess.run([bwrap, "--unshare-all", "--unshare-user", "--uid", str(NOBODY),
                            "--gid", str(NOBODY), "--ro-bind", "/", "/", "--proc", "/proc",
                            "--dev", "/dev", "true"], capture_output=True, text=True,
                           timeout=30, check=False)
    if probe.returncode != 0:
        first = (probe.stderr.strip().splitlines() or ["no message"])[0]
        return (f"bubblewrap cannot create a sandbox here ({first}): allow unprivileged user "
                f"namespaces (sysctl kernel.unprivileged_userns_clone=1), or {INSTALL_HINT}")
    return None


def _user_processes() -> int:
    """Processes (threads count as processes for the limit) of this user right now: the
    process limit is per user, so the sandbox's allowance is added to it."""
    uid = str(os.getuid())
    count = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [uid]:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count


def _system_binds() -> list[str]:
    """The system, read-only: /usr and the top-level links or folders into it."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for etc in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf"):
        if (Path("/etc") / etc).exists():
            args += ["--ro-bind", f"/etc/{etc}", f"/etc/{etc}"]
    return args


def _python_binds() -> list[str]:
    """The interpreter and the environment, read-only (each once, outer folders first)."""
    roots = []
    for path in sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()},
                       key=lambda p: len(p.parts)):
        if str(path).startswith("/usr") or any(path.is_relative_to(r) for r in roots):
            continue
        roots.append(path)
    args = []
    for path in roots:
        args += ["--ro-bind", str(path), str(path)]
    if Path(sys.prefix) != Path(sys.prefix).resolve():  # a venv reached through a link
        args += ["--symlink", str(Path(sys.prefix).resolve()), sys.prefix]
    return args


def environment(limits: Limits, workdir: str, submission: str) -> dict[str, str]:
    """The runner's whole environment (nothing is inherited from the grader's)."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": workdir, "USER": "nobody", "LOGNAME": "nobody", "LANG": "C.UTF-8",
        "TMPDIR": f"{workdir}/.tmp",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": f"{workdir}/.config/matplotlib",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1",
        "OMP_NUM_THREADS": str(limits.threads),
        "CNNCOURSE_WORKDIR": workdir, "CNNCOURSE_SUBMISSION": submission,
    }


def runner_command(view: Path, submission: Path, limits: Limits, scratch: Path,
                   sandboxed: bool = True) -> tuple[list[str], dict[str, str]]:
    """The command that starts the runner on ``submission`` (a folder of its files), and
    its environment. ``view`` is the folder holding the sandbox's ``cnncourse`` package.
    Without the sandbox, the runner works in ``scratch`` and finds the view first on its
    path: the same program, the same limits, no isolation."""
    runner = [sys.executable, "-m", "cnncourse.probe.runner"]
    if not sandboxed:
        env = environment(limits, str(scratch), str(submission))
        env["PYTHONPATH"] = str(view)
        (scratch / ".tmp").mkdir(parents=True, exist_ok=True)
        return runner, env
    args = _bwrap(view) + [
        "--size", str(limits.disk_mb << 20), "--tmpfs", WORKDIR,
        "--dir", f"{WORKDIR}/.tmp", "--ro-bind", str(submission), SUBMISSION,
        # the root is bwrap's own tmpfs, and the folders it made there for the binds
        # (/tmp when the course lives under /tmp) belong to the sandbox's user: read-only,
        # so the working folder is the one place it can write, within disk_mb
        "--remount-ro", "/", "--chdir", WORKDIR]
    return args + ["--", *runner], environment(limits, WORKDIR, SUBMISSION)


def _bwrap(view: Path) -> list[str]:
    """bwrap and the view every sandbox shares: namespaces, user, system, package."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable(f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
    return [bwrap, "--unshare-all", "--unshare-user", "--uid", str(NOBODY), "--gid",
            str(NOBODY), "--die-with-parent", "--new-session", "--hostname", "grader",
            "--cap-drop", "ALL", *_system_binds(), *_python_binds(),
            "--ro-bind", str(view / "cnncourse"), str(PACKAGE),
            "--proc", "/proc", "--dev", "/dev"]


@functools.lru_cache(maxsize=1)
def _bwrap_covers_proc() -> bool:
    """Whether bwrap covers parts of its /proc (it covers those its user could write to: as
    root, or when the grader's user is root outside a user namespace). The kernel lets a
    submission's namespace mount a /proc of its own only where a whole one is visible.
    bwrap is asked once: what does it mount under /proc."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return False
    mounts = subprocess.run([bwrap, "--unshare-all", "--unshare-user", "--uid", str(NOBODY),
                             "--gid", str(NOBODY), *_system_binds(), "--proc", "/proc",
                             "--dev", "/dev", "cat", "/proc/self/mountinfo"],
                            capture_output=True, text=True, timeout=30, check=False)
    if mounts.returncode != 0:
        return True  # cannot tell: the read-only view for the check costs nothing
    return any(line.split()[4].startswith("/proc/") for line in mounts.stdout.splitlines()
               if len(line.split()) > 4)


def zygote_command(view: Path, control: int, limits: Limits
                   ) -> tuple[list[str], dict[str, str], list[str]]:
    """The zygote's sandbox: the runner's, with no submission and an empty working folder
    (each submission mounts its own over both); its command, its environment, and the
    paths each submission must hide. ``control`` is the descriptor of its control socket.
    Where bwrap covers parts of /proc, the host's /proc is there read-only, for the kernel's
    check only: each submission mounts an empty folder over it before anything else."""
    args = _bwrap(view) + ["--size", str(1 << 20), "--tmpfs", WORKDIR,
                           "--dir", f"{WORKDIR}/.tmp", "--dir", SUBMISSION]
    hidden = []
    if _bwrap_covers_proc():
        args += ["--dir", HOST_PROC, "--ro-bind", "/proc", HOST_PROC]
        hidden.append(HOST_PROC)
    args += ["--remount-ro", "/", "--chdir", WORKDIR,
             "--", sys.executable, "-m", "cnncourse.probe.zygote", str(control)]
    env = environment(limits, WORKDIR, SUBMISSION)
    # torch and OpenMP read their threads when imported, in the zygote: as a runner would
    env.update(MKL_NUM_THREADS=str(limits.threads), OPENBLAS_NUM_THREADS=str(limits.threads))
    return args, env, hidden


def process_allowance(limits: Limits) -> int:
    """The RLIMIT_NPROC value that lets the sandbox start ``limits.processes`` more."""
    return _user_processes() + limits.processes
