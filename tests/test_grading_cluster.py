"""Nothing graded twice, nothing lost, and grading on a Dask cluster (the toy assignment).

- a second ``grade`` skips what is unchanged, grades what changed, ``--force`` grades all;
- a run stopped after its first result resumes: the rest is graded, the grades equal a
  clean run's;
- ``--scheduler`` on a local Dask cluster gives the grades of the local path, also when a
  worker is killed mid-run; a worker running other grading code is refused in one line;
  a scheduler lost mid-run leaves what was graded stored, and the same command, run
  again, grades only the rest.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

from cnncourse.cli import main
from cnncourse.grading.mutants import apply_mutant, load_mutants
from cnncourse.grading.verify import answered_release
from tests.test_grading_corpus import read_csv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "course"
STUDENTS = ["ann", "bob", "cem", "dia"]


def toy_class(root: Path) -> dict[str, float]:
    """The toy released to four students (one makes a known mistake); their scores."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", root)
    shutil.copytree(FIXTURE / "source" / "toy", root / "source" / "toy")
    assert main(["release", "toy", "--course", str(root)]) == 0
    source = nbformat.read(root / "source" / "toy" / "toy.ipynb", as_version=4)
    release = nbformat.read(root / "release" / "toy" / "toy.ipynb", as_version=4)
    full = answered_release(source, release)
    wrong = apply_mutant(full, {m.name: m for m in load_mutants(FIXTURE, "toy")}["add_minus"])
    for student in STUDENTS:
        folder = root / "submitted" / student / "toy"
        folder.mkdir(parents=True)
        nbformat.write(wrong if student == "cem" else full, folder / "toy.ipynb")
    return {s: 3.0 if s == "cem" else 5.0 for s in STUDENTS}


def scores(root: Path) -> dict[str, float]:
    return {r["student"]: float(r["score"])
            for r in read_csv(root / "reports" / "toy" / "grades.csv")}


def grade(root: Path, *extra: str) -> str:
    """``cnncourse grade toy`` in a process of its own; what it printed."""
    done = subprocess.run([sys.executable, "-m", "cnncourse", "grade", "toy", "--course",
                           str(root), *extra], capture_output=True, text=True, timeout=1200,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_unchanged_submissions_are_not_graded_twice(tmp_path):
    root = tmp_path / "course"
    expected = toy_class(root)
    first = grade(root, "--workers", "2")
    assert "skipped" not in first and scores(root) == expected
    again = grade(root, "--workers", "2")
    assert "Grading toy: 0 submission(s)" in again and "skipped 4 already graded" in again
    assert scores(root) == expected  # the report is rebuilt from the gradebook
    edited = root / "submitted" / "ann" / "toy" / "toy.ipynb"
    nb = nbformat.read(edited, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("print('one more cell')"))
    nbformat.write(nb, edited)
    changed = grade(root)
    assert "Grading toy: 1 submission(s)" in changed and re.search(r"\[1/1\] ann ", changed)
    forced = grade(root, "--force", "--workers", "2")
    assert "Grading toy: 4 submission(s)" in forced and scores(root) == expected


def test_a_stopped_run_resumes_where_it_stopped(tmp_path):
    root = tmp_path / "course"
    expected = toy_class(root)
    run = subprocess.Popen([sys.executable, "-m", "cnncourse", "grade", "toy", "--course",
                            str(root)], stdout=subprocess.PIPE, text=True)
    for line in run.stdout:  # the first result stored: Ctrl-C
        if line.startswith("[1/4]"):
            run.send_signal(signal.SIGINT)
            break
    rest = run.communicate(timeout=300)[0]
    assert run.returncode != 0 and "interrupted: 1 of 4 graded and stored" in rest
    resumed = grade(root)
    assert "Grading toy: 3 submission(s)" in resumed and "skipped 1 already graded" in resumed
    assert scores(root) == expected


# --------------------------------------------------------------------------- on Dask
def local_cluster(workers: int = 2):
    from distributed import LocalCluster

    return LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                        dashboard_address=None)


def test_a_dask_cluster_grades_as_the_local_path_even_losing_a_worker(tmp_path):
    from distributed import Client

    root = tmp_path / "course"
    expected = toy_class(root)
    with local_cluster() as cluster, Client(cluster) as client:
        pids = client.run(os.getpid)

        def kill_one_worker() -> None:  # the first worker seen grading, mid-submission
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                busy = [w for w, tasks in client.processing().items() if tasks]
                if busy:
                    time.sleep(1)
                    os.kill(pids[busy[0]], signal.SIGKILL)
                    return
                time.sleep(0.2)

        killer = threading.Thread(target=kill_one_worker)
        killer.start()
        assert main(["grade", "toy", "--course", str(root), "--scheduler",
                     cluster.scheduler_address]) == 0
        killer.join()
    assert scores(root) == expected
    assert sorted(p.name for p in (root / "feedback").iterdir()) == STUDENTS
    for student in STUDENTS:
        page = root / "feedback" / student / "toy" / "toy.html"
        assert "Content-Security-Policy" in page.read_text(encoding="utf-8")


def test_a_worker_with_other_grading_code_is_refused(tmp_path, capsys):
    from distributed import Client, LocalCluster

    root = tmp_path / "course"
    toy_class(root)
    other = tmp_path / "other"  # the course package, one checker changed
    shutil.copytree(REPO / "cnncourse", other / "cnncourse",
                    ignore=shutil.ignore_patterns("__pycache__", "*.npz"))
    shutil.copy(REPO / "cnncourse" / "data" / "mnist10k.npz",
                other / "cnncourse" / "data" / "mnist10k.npz")
    toy = other / "cnncourse" / "checks" / "toy.py"
    toy.write_text(toy.read_text() + "\n# changed\n")
    with LocalCluster(n_workers=0, dashboard_address=None) as cluster:
        env = {**os.environ, "PYTHONPATH": str(other)}
        worker = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                   cluster.scheduler_address, "--nthreads", "1"],
                                  env=env, cwd=tmp_path,  # python -m puts the cwd first
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with Client(cluster) as client:
                client.wait_for_workers(1, timeout=120)
            assert main(["grade", "toy", "--course", str(root), "--scheduler",
                         cluster.scheduler_address]) == 2
        finally:
            worker.kill()
            worker.wait()
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "grades with code" in err and "no submission" in err
    assert not (root / "feedback").exists()


def test_a_lost_scheduler_keeps_what_was_graded(tmp_path):
    root = tmp_path / "course"
    expected = toy_class(root)
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler",
                                  "--scheduler-file", str(scheduler_file), "--port", "0",
                                  "--dashboard-address", ":0"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers = []
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        import json

        address = json.loads(scheduler_file.read_text())["address"]
        workers = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker",
                                     address, "--nthreads", "1"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
        time.sleep(5)
        run = subprocess.Popen([sys.executable, "-m", "cnncourse", "grade", "toy", "--course",
                                str(root), "--scheduler", address],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in run.stdout:
            if line.startswith("[1/4]"):
                scheduler.kill()
                break
        output = run.communicate(timeout=300)[0]
        assert run.returncode != 0 and "graded and stored" in output, output
    finally:
        for process in [scheduler, *workers]:
            process.kill()
            process.wait()
    graded = len(read_csv_if(root))
    assert graded >= 1
    with local_cluster(1) as cluster:
        again = grade(root, "--scheduler", cluster.scheduler_address)
    assert f"skipped {graded} already graded" in again
    assert scores(root) == expected


def read_csv_if(root: Path) -> list[str]:
    """The students stored in the ledger so far."""
    import json

    ledger = root / "reports" / "toy" / "graded.json"
    return list(json.loads(ledger.read_text())["students"]) if ledger.is_file() else []
