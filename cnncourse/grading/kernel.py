"""The kernel nbgrader starts for a submission: ipykernel, inside limits.

``sandbox.py`` writes a kernelspec named ``python3`` into the sandbox and puts it first on
``JUPYTER_PATH``, so ``nbgrader autograde`` starts ``python -m cnncourse.grading.kernel``
instead of plain ipykernel. Before the kernel serves a single cell it

- caps its address space, the size of files it writes and core dumps (``resource``), and
  the threads torch and OpenMP may start;
- leaves the network where the system allows it (a private network namespace; the kernel
  talks to nbgrader over unix sockets, ``transport = "ipc"``);
- adds an audit hook (Python cannot remove one) refusing to open the course's files and
  the gradebook, to write outside the submission's folder, and to start processes.

Limits come in ``CNNCOURSE_KERNEL_LIMITS`` (JSON) from the grading worker.
"""

from __future__ import annotations

import json
import os
import sys

LIMITS_VARIABLE = "CNNCOURSE_KERNEL_LIMITS"


def kernelspec(python: str) -> dict:
    """The kernel.json that starts this module with ``python``."""
    return {"argv": [python, "-m", "cnncourse.grading.kernel", "-f", "{connection_file}"],
            "display_name": "Python 3 (graded)", "language": "python",
            "metadata": {"debugger": False}}


def _hook(workdir: str, blocked: list[str]):
    """Refuse the course's files, writes outside ``workdir``, and new processes."""
    abspath = os.path.abspath
    refused = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
               "os.fork", "os.forkpty", "os.kill", "os.killpg", "socket.connect",
               "socket.sendto", "socket.getaddrinfo")

    def hook(event: str, args: tuple) -> None:
        if event == "open":
            path, mode = args[0], args[1] or "r"
            flags = args[2] if len(args) > 2 else 0
            if path is None or isinstance(path, int):
                return
            full = abspath(os.fsdecode(path))
            if full.startswith(workdir + os.sep) or full == os.devnull:
                return
            writing = any(c in str(mode) for c in "wax+") or bool(
                flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC))
            if (writing or full.endswith("gradebook.db")
                    or any(full == r or full.startswith(r + os.sep) for r in blocked)):
                raise PermissionError(f"not allowed while grading: opening {os.fsdecode(path)}"
                                      " (outside your submission's folder)")
        elif event.startswith(refused):
            raise PermissionError(f"not allowed while grading: {event}")

    return hook


def main() -> None:
    from cnncourse.grading.limits import Limits, apply_limits, isolate_network

    settings = json.loads(os.environ.get(LIMITS_VARIABLE, "{}"))
    limits = Limits(**settings.get("limits", {}))
    if settings.get("isolate_network"):
        isolate_network()
    apply_limits(limits)
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:])  # reads the connection file, binds its sockets
    workdir = os.path.abspath(os.getcwd())
    sys.addaudithook(_hook(workdir, [os.path.abspath(p) for p in settings.get("blocked", [])]))
    app.start()


if __name__ == "__main__":
    main()
