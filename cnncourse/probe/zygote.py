"""The sandbox's zygote: one process that has imported what the runner needs, and forks
each submission's runner into namespaces of its own.

``python -m cnncourse.probe.zygote FD`` is started by the grader
(``cnncourse.grading.zygote``) in a bubblewrap sandbox like the runner's, but holding no
submission. It imports torch, IPython and the probe on its first request (no torch op, no
thread: a fork keeps all it has), then waits on the control socket ``FD``. A request is
one datagram carrying three file descriptors: the submission's channel (a socket), its
lifeline (a pipe whose other end only the grader holds) and its log. For each:

1. the zygote forks; the child unshares a new user namespace (its uid and gid mapped to
   themselves, setgroups denied) with new mount, PID, IPC, UTS and network namespaces,
   forks once more and exits;
2. that grandchild is PID 1 of the fresh PID namespace (``_init``): it says hello on the
   channel (the kernel tells the grader its pid), reads the setup the grader sends, and
   mounts a fresh /proc, a private tmpfs of ``disk_mb`` on the working folder, the
   submission's files and the checker stubs read-only, a fresh /dev/shm and /dev/pts, and
   /dev read-only; it brings up loopback and forks the runner. It then only waits: when
   the runner ends or the lifeline breaks (the grader closed it or died), it exits and the
   kernel kills whatever is left in the namespace;
3. the runner (PID 2, as under bubblewrap) drops every capability (bounding, ambient,
   effective, permitted, inheritable), sets no_new_privs, and runs ``runner.serve`` on
   the channel: the same program, limits and reports as a runner of its own.

The zygote never runs a submission's code and never reads its files: nothing of one
submission is in the memory the next one is forked from. Only trusted code runs before
the runner; everything here uses the C library through ctypes.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import gc
import os
import select
import signal
import socket
import struct
import sys
import traceback

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
PR_SET_DUMPABLE, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 4, 24, 38
PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 47, 4
CAPABILITY_VERSION_3 = 0x20080522
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
HELLO = b"ZYG1"  # the first bytes on a channel: from PID 1 of the submission's namespace
REQUEST = b"fork"
FDS = 3  # channel, lifeline, log
PROC_COVERED = ("sys", "sysrq-trigger", "irq", "bus")  # as bubblewrap covers them

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                        ctypes.c_char_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]
_libc.unshare.argtypes = [ctypes.c_int]


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    def b(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    _check(_libc.mount(b(source), b(target), b(fstype), flags, b(data)), f"mount {target}")


def _prctl(option: int, arg: int = 0, arg3: int = 0) -> None:
    _check(_libc.prctl(option, arg, arg3, 0, 0), f"prctl {option}")


# --------------------------------------------------------------------------- the zygote
def warm() -> None:
    """What the runner and a notebook import: once, here, so every runner starts warm."""
    import IPython.core.displayhook  # noqa: F401
    import IPython.core.displaypub  # noqa: F401
    import IPython.core.interactiveshell  # noqa: F401
    import torch  # noqa: F401  (imported only: no op, no thread)

    import cnncourse.probe.runner  # noqa: F401
    import cnncourse.probe.server  # noqa: F401
    import cnncourse.probe.wire  # noqa: F401


def main() -> None:
    control = socket.socket(fileno=int(sys.argv[1]))
    warmed = False
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(control, 64, FDS)
        except InterruptedError:
            continue
        except OSError:
            break
        if not data and not fds:
            break  # the grader closed its end
        if data != REQUEST or len(fds) != FDS:
            for fd in fds:
                os.close(fd)
            continue
        try:
            if not warmed:
                warm()
                gc.freeze()  # the collector of a child then leaves these pages shared
                warmed = True
            pid = os.fork()
        except BaseException:  # noqa: BLE001 - the grader sees its channel close, and falls back
            _report(fds[2])
            for fd in fds:
                os.close(fd)
            continue
        if pid == 0:
            code = 70
            try:
                control.detach()  # its descriptor is closed below, not by a finalizer later
                _unshare(*fds)
            except BaseException:  # noqa: BLE001
                _report(fds[2])
            finally:
                os._exit(code)
        for fd in fds:
            os.close(fd)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)  # it only unshares and forks


def _report(log: int) -> None:
    with contextlib.suppress(OSError):
        os.write(log, ("zygote: " + traceback.format_exc()).encode("utf-8", "replace"))


def _close_all_but(keep: set[int]) -> None:
    for fd in range(3, max(keep)):
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)
    os.closerange(max(keep) + 1, os.sysconf("SC_OPEN_MAX"))


# --------------------------------------------------------------------------- the first child
def _unshare(channel: int, lifeline: int, log: int) -> None:
    """New namespaces for one submission, owned by a new user namespace; then PID 1."""
    _close_all_but({channel, lifeline, log})
    os.dup2(log, 1)
    os.dup2(log, 2)
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC
                         | CLONE_NEWUTS | CLONE_NEWNET), "unshare")
    for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"),
                       ("gid_map", f"{gid} {gid} 1")):
        with open(f"/proc/self/{name}", "w") as f:
            f.write(text)
    if os.fork() == 0:
        code = 71
        try:
            _init(channel, lifeline, log)
            code = 0
        except BaseException:  # noqa: BLE001
            _report(log)
        finally:
            os._exit(code)
    os._exit(0)


# --------------------------------------------------------------------------- PID 1
def _init(channel: int, lifeline: int, log: int) -> None:
    """PID 1 of the submission's namespace: set up, start the runner, wait."""
    from cnncourse.probe.wire import fd_reader

    _prctl(PR_SET_DUMPABLE, 0)  # no ptrace, no /proc/1/mem for the runner's side
    os.setsid()
    os.write(channel, HELLO)
    setup = fd_reader(channel).read()
    _prepare(setup.body, setup.blobs)
    # SIGCHLD wakes the wait below; set before the fork, so a runner that ends at once counts
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    runner = os.fork()
    if runner == 0:
        code = 72
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            for fd in (wake_r, wake_w, lifeline):
                os.close(fd)
            _run(channel, log, setup.body)
        except BaseException:  # noqa: BLE001
            _report(log)
        finally:
            os._exit(code)
    os.close(channel)
    os.close(log)
    _wait(runner, lifeline, wake_r)


def _wait(runner: int, lifeline: int, wake: int) -> None:
    """Reap every process of the namespace until the runner ends or the lifeline breaks."""
    poller = select.poll()
    poller.register(lifeline, select.POLLIN)
    poller.register(wake, select.POLLIN)
    while True:
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                break
            if pid == runner:
                return
        for fd, _ in poller.poll():
            if fd == lifeline:
                return  # the grader is done with this submission, or gone
            with contextlib.suppress(BlockingIOError):
                os.read(wake, 4096)


def _prepare(setup: dict, blobs: list[bytes]) -> None:
    """The submission's file system and network, before any of its code."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing propagates back to the zygote
    _fresh_proc()
    for hidden in setup.get("hide", []):  # a view the zygote needed, never the runner
        _mount("tmpfs", hidden, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
               "size=4k,mode=0555")
    workdir = setup["workdir"]
    _mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={int(setup['disk_mb']) << 20},mode=0755")
    os.mkdir(os.path.join(workdir, ".tmp"))
    files, stubs = setup["files"], setup["stubs"]
    if len(blobs) != len(files) + len(stubs):
        raise ValueError("the setup's files and blobs do not match")
    _read_only_folder(setup["submission"], dict(zip(files, blobs[:len(files)], strict=True)))
    _read_only_folder(setup["checks"], dict(zip(stubs, blobs[len(files):], strict=True)))
    # /dev of the zygote is shared by every submission: read-only here, with its own
    # /dev/shm (within memory_mb) and its own pseudo-terminals
    _mount(None, "/dev", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    _mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={int(setup['memory_mb']) << 20},mode=1777")
    _mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
           "newinstance,ptmxmode=0666,mode=620")
    _loopback_up()


def _fresh_proc() -> None:
    """/proc of this PID namespace. The kernel allows it only where a /proc is already fully
    visible; when the only such one is read-only (bubblewrap run by root covers parts of its
    own), this one is read-only too. Otherwise the parts bubblewrap covers are covered."""
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    try:
        _mount("proc", "/proc", "proc", flags)
    except PermissionError:
        _mount("proc", "/proc", "proc", flags | MS_RDONLY)
        return
    for name in PROC_COVERED:
        path = f"/proc/{name}"
        if os.path.lexists(path):
            _mount(path, path, None, MS_BIND | MS_REC)
            _mount(None, path, None, MS_BIND | MS_REMOUNT | MS_RDONLY | flags)


def _read_only_folder(target: str, files: dict[str, bytes]) -> None:
    """A fresh tmpfs at ``target`` holding ``files``, then read-only."""
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    root = os.path.realpath(target)
    for name, data in files.items():
        path = os.path.realpath(os.path.join(root, name))
        if os.path.commonpath([root, path]) != root or path == root:
            raise ValueError(f"a file outside {target}: {name!r}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
    _mount(None, target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _loopback_up() -> None:
    """An empty network namespace whose loopback is up, as bubblewrap leaves it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


# --------------------------------------------------------------------------- the runner
def drop_capabilities() -> None:
    """No capability left in any set, none to regain (no_new_privs)."""
    _prctl(PR_SET_NO_NEW_PRIVS, 1)
    cap = 0
    while _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0:
        cap += 1
    if ctypes.get_errno() != errno.EINVAL or cap == 0:  # EINVAL: past the last capability
        raise OSError(ctypes.get_errno(), "dropping the bounding set")
    _prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    header = (ctypes.c_uint32 * 2)(CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # two of (effective, permitted, inheritable), all 0
    _check(_libc.capset(header, data), "capset")


def _run(channel: int, log: int, setup: dict) -> None:
    """The runner, in this process: the grader's program from here on."""
    import importlib

    from cnncourse.probe import runner

    os.setsid()  # as bubblewrap's --new-session
    drop_capabilities()
    _prctl(PR_SET_DUMPABLE, 1)  # as any runner: its own processes may inspect each other
    imported_with = os.environ.get("OMP_NUM_THREADS")  # the zygote's, torch read it
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in setup["env"].items()})
    if os.environ.get("OMP_NUM_THREADS") != imported_with:
        import torch

        torch.set_num_threads(int(setup.get("threads", 1)))
    if "numpy.random" in sys.modules:  # a fork shares its parent's seed
        sys.modules["numpy.random"].seed()
    sys.argv = [runner.__file__]
    sys.path_importer_cache.clear()  # the working folder is another one now
    importlib.invalidate_caches()
    os.close(log)
    runner.serve(channel, channel)


if __name__ == "__main__":
    main()
