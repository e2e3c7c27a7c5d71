"""What one submission may use while it is graded, and how the limits are put in place.

Used by the clean re-run (``trusted.py``) and by the notebook kernel (``kernel.py``), so it
imports nothing heavy: the kernel starts with it before ipykernel.
"""

from __future__ import annotations

import contextlib
import os
import resource
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """What one submission may use while it is re-run."""

    cell_timeout: int = 60  # seconds per cell
    memory_mb: int = 4096  # address space (torch alone maps about 1 GB)
    file_mb: int = 64  # largest file it may write
    threads: int = 1  # torch / OpenMP threads


def isolate_network() -> bool:
    """A private network namespace with nothing in it (Linux, unprivileged user namespaces).
    False where the system does not allow it: the audit hook still refuses sockets."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        clone_newuser, clone_newnet = 0x10000000, 0x40000000
        uid, gid = os.getuid(), os.getgid()
        if libc.unshare(clone_newuser | clone_newnet) != 0:
            return False
        with contextlib.suppress(OSError):  # map ourselves, so file ownership still reads right
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
            Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
        return True
    except Exception:  # noqa: BLE001 - no ctypes, not Linux: the audit hook still applies
        return False


def apply_limits(limits: Limits) -> None:
    """Cap this process (and what it starts): address space, file size, no core dumps, and
    the threads of torch, OpenMP and BLAS."""
    for kind, value in ((resource.RLIMIT_AS, limits.memory_mb << 20),
                        (resource.RLIMIT_FSIZE, limits.file_mb << 20),
                        (resource.RLIMIT_CORE, 0)):
        with contextlib.suppress(ValueError, OSError):
            soft, hard = resource.getrlimit(kind)
            resource.setrlimit(kind, (value if hard == resource.RLIM_INFINITY
                                      else min(value, hard), hard))
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[variable] = str(limits.threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(limits.threads)
