"""Benchmark ``cnncourse grade``: seconds per submission and the speed-up of parallel workers.

Builds a scratch course holding one problem set (default ps01_convolution), releases it,
hands in a class of N submissions (the reference answers, with one known-wrong answer from
``mutants/`` every few students so the grades differ), then grades the class with 1 worker
and with ``--workers W``, and prints the time per submission, the speed-up, and whether the
two runs gave identical grades. Not a test: run it by hand and quote what it prints.

    .venv/bin/python scripts/bench_grading.py --students 40 --workers 2
    .venv/bin/python scripts/bench_grading.py --students 40 --sandbox-cost
    .venv/bin/python scripts/bench_grading.py --students 10 --cpu
    .venv/bin/python scripts/bench_grading.py --students 40 --workers 2 --dask
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

from cnncourse.cli import main as cnncourse
from cnncourse.grading.mutants import apply_mutant, load_mutants
from cnncourse.grading.verify import answered_release

REPO = Path(__file__).resolve().parent.parent


def build_class(root: Path, assignment: str, students: int) -> None:
    """A course at ``root`` with ``assignment`` released and ``students`` submissions."""
    exercises = REPO / "exercises"
    root.mkdir(parents=True)
    shutil.copy(exercises / "nbgrader_config.py", root)
    shutil.copytree(exercises / "source" / assignment, root / "source" / assignment)
    if cnncourse(["release", assignment, "--course", str(root)]) != 0:
        raise SystemExit("release failed")
    name = f"{assignment}.ipynb"
    source = nbformat.read(root / "source" / assignment / name, as_version=4)
    release = nbformat.read(root / "release" / assignment / name, as_version=4)
    full = answered_release(source, release)
    mutants = load_mutants(exercises, assignment)
    for i in range(students):
        nb = full
        if mutants and i % 4 == 3:  # a quarter of the class makes a known mistake
            nb = apply_mutant(full, mutants[(i // 4) % len(mutants)])
        folder = root / "submitted" / f"student{i:03d}" / assignment
        folder.mkdir(parents=True)
        nbformat.write(nb, folder / name)


def grade(root: Path, assignment: str, workers: int, sandbox: bool = True
          ) -> tuple[float, str]:
    """Seconds to grade the whole class, and the grades.csv it wrote."""
    started = time.perf_counter()
    code = cnncourse(["grade", assignment, "--course", str(root), "--workers", str(workers)]
                     + ([] if sandbox else ["--no-sandbox"]))
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"cnncourse grade failed with exit code {code}")
    return seconds, (root / "reports" / assignment / "grades.csv").read_text(encoding="utf-8")


def phase_means(root: Path, assignment: str) -> str:
    """Mean seconds per phase (sandboxed run, nbgrader autograde, feedback) from the logs."""
    totals: dict[str, list[float]] = {}
    for log in (root / "reports" / assignment / "logs").glob("*.log"):
        for line in log.read_text(encoding="utf-8").splitlines():
            if line.startswith("timings: "):
                for item in line[len("timings: "):].split(", "):
                    name, _, value = item.rpartition(" ")[0].rpartition(" ")
                    totals.setdefault(name, []).append(float(value))
    return ", ".join(f"{name} {sum(v) / len(v):.1f} s" for name, v in totals.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", default="ps01_convolution")
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2, help="compared with 1 worker")
    parser.add_argument("--sandbox-cost", action="store_true",
                        help="instead, grade with 1 worker with and without the sandbox, "
                        "alternating, and print what the sandbox adds per submission")
    parser.add_argument("--save", metavar="JSON", default=None,
                        help="with --cpu: also write the figures there (the instructors' page "
                        "reads book/data/grading_benchmark.json)")
    parser.add_argument("--dask", action="store_true",
                        help="instead, wall time of --workers W locally against a local Dask "
                        "cluster of W workers (--scheduler), alternating, same class")
    parser.add_argument("--cpu", action="store_true",
                        help="instead, CPU seconds per submission (1 worker): cnncourse grade "
                        "with and without the sandbox, and plain `nbgrader autograde` on the "
                        "same notebooks (needs a writable cgroup-v1 cpuacct, as root)")
    args = parser.parse_args()
    if args.sandbox_cost:
        return sandbox_cost(args.assignment, args.students)
    if args.cpu:
        return cpu_per_submission(args.assignment, args.students, args.save)
    if args.dask:
        return dask_against_local(args.assignment, args.students, args.workers)
    quiet = open(os.devnull, "w")  # noqa: SIM115 - the per-student lines would drown the result
    with tempfile.TemporaryDirectory(prefix="bench-grading-") as tmp:
        root = Path(tmp) / "course"
        build_class(root, args.assignment, args.students)
        timings = {}
        grades = {}
        for workers in (1, args.workers):
            shutil.rmtree(root / "reports", ignore_errors=True)
            stdout, sys.stdout = sys.stdout, quiet
            try:
                timings[workers], grades[workers] = grade(root, args.assignment, workers)
            finally:
                sys.stdout = stdout
            print(f"{workers} worker(s): {timings[workers]:6.1f} s for {args.students} "
                  f"submissions = {timings[workers] / args.students:5.2f} s per submission "
                  f"(per submission: {phase_means(root, args.assignment)})", flush=True)
    speedup = timings[1] / timings[args.workers]
    same = grades[1] == grades[args.workers]
    load = os.getloadavg()[0]
    print(f"speed-up with {args.workers} workers: {speedup:.2f}x on {os.cpu_count()} CPU(s); "
          f"grades identical: {'yes' if same else 'NO'} (load average now {load:.1f}: "
          "other work on the machine skews the numbers)")
    return 0 if same else 1


def sandbox_cost(assignment: str, students: int, rounds: int = 2) -> int:
    """Seconds per submission with and without bubblewrap, in alternating rounds (so that
    the machine's other work weighs on both alike)."""
    quiet = open(os.devnull, "w")  # noqa: SIM115
    per: dict[bool, list[float]] = {True: [], False: []}
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        root = Path(tmp) / "course"
        build_class(root, assignment, students)
        for _ in range(rounds):
            for sandbox in (True, False):
                shutil.rmtree(root / "reports", ignore_errors=True)
                stdout, sys.stdout = sys.stdout, quiet
                try:
                    seconds, _ = grade(root, assignment, 1, sandbox)
                finally:
                    sys.stdout = stdout
                per[sandbox].append(seconds / students)
                print(f"{'sandbox   ' if sandbox else 'no sandbox'}: {seconds / students:5.2f} s "
                      f"per submission ({phase_means(root, assignment)})", flush=True)
    added = min(per[True]) - min(per[False])
    print(f"the sandbox adds {added:+.2f} s per submission (best of {rounds} rounds each; "
          f"load average now {os.getloadavg()[0]:.1f})")
    return 0


def dask_against_local(assignment: str, students: int, workers: int, rounds: int = 2) -> int:
    """Seconds per submission: the local pool of ``workers`` against a local Dask cluster of
    as many single-threaded workers, in alternating rounds; and whether the grades agree."""
    from distributed import LocalCluster

    quiet = open(os.devnull, "w")  # noqa: SIM115
    seconds: dict[str, list[float]] = {"local": [], "dask": []}
    grades: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        root = Path(tmp) / "course"
        build_class(root, assignment, students)
        for _ in range(rounds):
            for mode in ("local", "dask"):
                # a fresh cluster each time, as the local pool starts fresh: its workers'
                # start (importing torch and nbgrader) is part of the cost
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1,
                                       processes=True, dashboard_address=None) \
                    if mode == "dask" else None
                extra = ["--force"] + (["--scheduler", cluster.scheduler_address]
                                       if cluster else [])
                stdout, sys.stdout = sys.stdout, quiet
                try:
                    started = time.perf_counter()
                    code = cnncourse(["grade", assignment, "--course", str(root), "--workers",
                                      str(workers), *extra])
                    seconds[mode].append(time.perf_counter() - started)
                finally:
                    sys.stdout = stdout
                    if cluster is not None:
                        cluster.close()
                if code != 0:
                    raise SystemExit(f"grading ({mode}) failed with exit code {code}")
                grades[mode] = (root / "reports" / assignment / "grades.csv").read_text()
                print(f"{mode:5s}: {seconds[mode][-1] / students:5.2f} s per submission",
                      flush=True)
    local, dask = min(seconds["local"]), min(seconds["dask"])
    print(f"Dask costs {100 * (dask / local - 1):+.0f} % wall time against the local pool "
          f"(best of {rounds} each, {workers} workers); grades identical: "
          f"{'yes' if grades['local'] == grades['dask'] else 'NO'}; load average now "
          f"{os.getloadavg()[0]:.1f}")
    return 0 if grades["local"] == grades["dask"] else 1


CPUACCT = Path("/sys/fs/cgroup/cpuacct")


def cpu_seconds(argv: list[str], cwd: Path) -> float:
    """CPU seconds of a command and every process it starts (a cgroup of its own, so
    that processes nobody waits for are counted too)."""
    group = CPUACCT / f"cnncourse-bench-{os.getpid()}"
    group.mkdir()
    try:
        process = subprocess.Popen(["sh", "-c", f'echo $$ > {group}/cgroup.procs && exec "$@"',
                                    "sh", *argv], cwd=cwd, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        if process.wait() != 0:
            raise SystemExit(f"{' '.join(argv)} failed")
        return int((group / "cpuacct.usage").read_text()) / 1e9
    finally:
        for pid in (group / "cgroup.procs").read_text().split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), 9)
        time.sleep(0.5)
        group.rmdir()


def cpu_per_submission(assignment: str, students: int, save: str | None = None) -> int:
    if not os.access(CPUACCT, os.W_OK):
        raise SystemExit(f"--cpu needs a writable {CPUACCT} (run as root)")
    cnncourse_bin = [sys.executable, "-m", "cnncourse"]
    nbgrader_bin = [str(Path(sys.executable).with_name("nbgrader"))]
    with tempfile.TemporaryDirectory(prefix="bench-cpu-") as tmp:
        root = Path(tmp) / "course"
        build_class(root, assignment, students)
        runs = {
            "cnncourse grade (sandbox)": cnncourse_bin + ["grade", assignment, "--course",
                                                          str(root), "--force"],
            "cnncourse grade --no-sandbox": cnncourse_bin + ["grade", assignment, "--course",
                                                             str(root), "--force",
                                                             "--no-sandbox"],
            "nbgrader autograde (no protection, no feedback)": nbgrader_bin + [
                "autograde", assignment, "--force"],
        }
        measured = {}
        for label, argv in runs.items():
            seconds = cpu_seconds(argv, root)
            measured[label] = round(seconds / students, 2)
            print(f"{label:48s} {seconds / students:5.2f} CPU s per submission", flush=True)
    if save:
        import json
        import platform

        Path(save).write_text(json.dumps({
            "assignment": assignment, "students": students, "workers": 1,
            "cpu_seconds_per_submission": measured, "load_average": os.getloadavg()[0],
            "cpus": os.cpu_count(), "machine": platform.processor() or platform.machine(),
            "date": time.strftime("%Y-%m-%d")}, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
