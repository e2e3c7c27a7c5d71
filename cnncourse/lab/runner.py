"""Running an experiment: every arm of every seed, stored as soon as it is done.

A run is resumable at the grain of one arm of one seed: an arm whose record is in the
manifest with the right sha256 is not run again, so ``cnncourse lab run NAME`` after a stop
(Ctrl-C, a reboot) continues where it stopped. Results made under another config are stale
and removed first. Two processes may run different seeds of one experiment at once: the
manifest is updated under a file lock.

Every arm runs deterministically: ``torch.use_deterministic_algorithms``, a fixed number of
threads (1 by default), and ``torch.manual_seed(seed)`` before the arm builds its model, so
the same seed gives the same numbers on the same machine and ``check`` can replay them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

import cnncourse
from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext
from cnncourse.lab.results import (
    MANIFEST,
    Results,
    arm_files,
    dependency_hashes,
    folder_name,
    read_manifest,
    results_root,
    sha256_file,
)
from cnncourse.lab.spec import ArmResult, Experiment, config_dict, config_hash

LOCK = ".lock"


@contextlib.contextmanager
def deterministic(threads: int, device: str = "cpu") -> Iterator[None]:
    """Repeatable training inside the block: a fixed number of threads and deterministic
    kernels; the process's own settings come back afterwards (tests share the process)."""
    if device.startswith("cuda"):
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.backends.cudnn.benchmark = False
    saved = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(saved[0])
        torch.use_deterministic_algorithms(saved[1])


def git_state() -> dict[str, Any]:
    """The repository's commit and whether the package had uncommitted changes."""
    repo = Path(cnncourse.__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                                  timeout=10, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    status = git("status", "--porcelain", "--", "cnncourse")
    return {"git_commit": git("rev-parse", "HEAD"), "git_dirty": bool(status)}


def environment(device: str) -> dict[str, Any]:
    return {"package_version": cnncourse.__version__, **git_state(),
            "torch_version": torch.__version__, "threads": torch.get_num_threads(),
            "device": device, "python": platform.python_version(),
            "machine": platform.machine()}


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK).open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(text)
    partial.replace(path)


def _arm_done(folder: Path, manifest: dict[str, Any], seed: int, arm: str) -> bool:
    entry = manifest.get("arms", {}).get(str(seed), {}).get(arm)
    if entry is None:
        return False
    for relative in filter(None, (entry.get("file"), entry.get("weights"))):
        path = folder / relative
        if not path.exists() or sha256_file(path) != manifest["files"].get(relative):
            return False
    return True


def _fresh_manifest(experiment: Experiment, root: Path) -> dict[str, Any]:
    return {"experiment": experiment.name, "chapter": experiment.chapter,
            "summary": experiment.summary, "config": config_dict(experiment.config),
            "config_hash": config_hash(experiment.config),
            "depends_on": dependency_hashes(experiment, root), "arms": {}, "files": {}}


def _is_current(manifest: dict[str, Any] | None, experiment: Experiment, root: Path) -> bool:
    return (manifest is not None
            and manifest.get("config_hash") == config_hash(experiment.config)
            and manifest.get("depends_on", {}) == dependency_hashes(experiment, root))


def _store_arm(folder: Path, experiment: Experiment, seed: int, arm: str, result: ArmResult,
               wall: float, device: str, root: Path, cpu: float | None = None) -> None:
    record, weights = arm_files(seed, arm)
    _write_atomic(folder / record, json.dumps(result.to_json(), indent=1))
    if result.weights is not None:
        partial = folder / (weights + ".part")
        torch.save(result.weights, partial)
        partial.replace(folder / weights)
    with _locked(folder):
        manifest = read_manifest(folder)
        if not _is_current(manifest, experiment, root):
            manifest = _fresh_manifest(experiment, root)
        entry = {"file": record, "weights": weights if result.weights is not None else None,
                 "wall_seconds": round(wall, 2),
                 # this process's CPU time: on a shared machine the wall time is not the cost
                 **({"cpu_seconds": round(cpu, 2)} if cpu is not None else {}),
                 "finished": datetime.now(UTC).isoformat(timespec="seconds"),
                 **environment(device)}
        manifest["arms"].setdefault(str(seed), {})[arm] = entry
        manifest["files"][record] = sha256_file(folder / record)
        if result.weights is not None:
            manifest["files"][weights] = sha256_file(folder / weights)
        manifest.update(environment(device))  # the latest arm's, each arm keeps its own
        manifest["seconds_per_seed"] = {
            s: round(sum(e["wall_seconds"] for e in arms.values()), 1)
            for s, arms in sorted(manifest["arms"].items(), key=lambda kv: int(kv[0]))}
        _write_atomic(folder / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True))


def run_experiment(experiment: Experiment, default_data: str, seeds: list[int] | None = None,
                   device: str = "cpu", threads: int = 1, root: Path | None = None,
                   log: Callable[[str], None] = print) -> Path:
    """Run the arms of ``seeds`` (default: the config's) not already stored; return the
    results folder. ``LabError`` if a dependency's results are missing or stale."""
    root = results_root() if root is None else root
    for name in experiment.depends_on:
        from cnncourse.lab.registry import get_experiment

        Results.load(get_experiment(name), get_experiment(name).config.data, root)
    folder = root / folder_name(experiment, default_data)
    with _locked(folder):
        manifest = read_manifest(folder)
        if manifest is not None and not _is_current(manifest, experiment, root):
            log(f"{experiment.name}: the stored results are stale (config or dependencies "
                "changed); removing them")
            for child in folder.iterdir():
                if child.name != LOCK:
                    shutil.rmtree(child) if child.is_dir() else child.unlink()
            manifest = None
    seeds = list(experiment.config.seeds) if seeds is None else seeds
    load_data(experiment.config.data)  # made once, before the clock starts
    for seed in seeds:
        for arm in experiment.arm_names():
            manifest = read_manifest(folder) or {}
            if _arm_done(folder, manifest, seed, arm):
                log(f"{experiment.name} seed {seed} {arm}: stored, skipped")
                continue
            ctx = RunContext(device=device, root=root, progress=lambda line, s=seed, a=arm: log(
                f"  {experiment.name} seed {s} {a} {line}"))
            with deterministic(threads, device):
                torch.manual_seed(seed)
                start, cpu_start = time.perf_counter(), time.process_time()
                result = experiment.run_arm(experiment.config, arm, seed, ctx)
                wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
                result.first_steps = ctx.first_steps
                _store_arm(folder, experiment, seed, arm, result, wall, device, root, cpu)
            summary = ", ".join(f"{k} {v:.4g}" for k, v in list(result.final.items())[:4])
            log(f"{experiment.name} seed {seed} {arm}: {wall:.0f} s ({summary})")
    return folder
