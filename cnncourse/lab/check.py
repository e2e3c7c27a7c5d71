"""``cnncourse lab check``: are the stored results intact, current, true, and this code's?

For one experiment, in order:
1. ``Results.load``: every file's sha256 against the manifest, the config hash against the
   experiment's config now, the dependencies' manifests, every seed present;
2. every claim, decided on the stored results and printed with its numbers;
3. a replay: the first steps of every arm of the first seed are trained again, here, and
   their losses compared with the stored ones. Training is deterministic on a CPU with a
   fixed thread count, so on the machine that made them they agree exactly; another CPU
   may differ in the last digits of float32 arithmetic, hence a small tolerance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch

from cnncourse.lab.loop import ReplayDone, RunContext
from cnncourse.lab.results import Results
from cnncourse.lab.runner import deterministic
from cnncourse.lab.spec import Experiment

REPLAY_STEPS = 3
REPLAY_TOLERANCE = 1e-4   # relative, on the loss of each replayed step
CUDA_TOLERANCE = 1e-2     # results made on a GPU, replayed on the CPU


def replay_arm(experiment: Experiment, arm: str, seed: int, steps: int, threads: int = 1,
               root: Path | None = None, ctx: RunContext | None = None) -> list[float]:
    """Train the first ``steps`` steps of one arm of ``seed`` again, as the runner did, and
    return their losses (``ctx``: a context of the caller's, to read afterwards)."""
    ctx = RunContext(root=root) if ctx is None else ctx
    ctx.record_steps = ctx.stop_after = steps
    with deterministic(threads):
        torch.manual_seed(seed)
        try:
            experiment.run_arm(experiment.config, arm, seed, ctx)
        except ReplayDone:
            pass
    return ctx.first_steps


def replay(results: Results, steps: int = REPLAY_STEPS, seed: int | None = None,
           root: Path | None = None) -> tuple[bool, str]:
    """Retrain the first ``steps`` steps of every arm of ``seed`` (default: the first stored
    one) and compare the losses; ``(agrees, one line saying how well)``."""
    experiment = results.experiment
    seed = results.seeds[0] if seed is None else seed
    worst, compared, tolerance = 0.0, 0, REPLAY_TOLERANCE
    for arm in experiment.arm_names():
        stored = results.arm(seed, arm)["first_steps"][:steps]
        if not stored:
            continue  # an arm that trains nothing (an analysis of other arms' models)
        entry = results.manifest["arms"][str(seed)][arm]
        if str(entry.get("device", "cpu")).startswith("cuda"):
            tolerance = CUDA_TOLERANCE
        again = replay_arm(experiment, arm, seed, len(stored),
                           threads=int(entry.get("threads", 1)), root=root)
        if len(again) != len(stored):
            return False, (f"replay of seed {seed} {arm} made {len(again)} steps, "
                           f"{len(stored)} are stored")
        for a, b in zip(again, stored, strict=True):
            difference = abs(a - b) / max(1.0, abs(b))
            if not math.isfinite(difference) or difference > tolerance:
                return False, (f"replay of seed {seed} {arm} differs: step losses "
                               f"{_fmt(again)} now, {_fmt(stored)} stored")
            worst = max(worst, difference)
        compared += 1
    if compared == 0:
        return True, "nothing to replay (no arm trains)"
    return True, (f"replayed the first {steps} steps of seed {seed} in {compared} arm"
                  f"{'s' if compared > 1 else ''}: largest relative difference {worst:.1e} "
                  f"(tolerance {tolerance:.0e})")


def _fmt(values: list[float]) -> str:
    return "[" + ", ".join(f"{v:.6f}" for v in values) + "]"


def check_experiment(experiment: Experiment, default_data: str, root: Path | None = None,
                     replay_steps: int = REPLAY_STEPS,
                     log: Callable[[str], None] = print) -> bool:
    """Verify, decide the claims, replay; print a report; True if all of it passes.

    ``LabError`` (stale, missing, edited) propagates: the caller prints its one line."""
    results = Results.load(experiment, default_data, root)
    seconds = results.wall_seconds()
    log(f"{experiment.name} ({experiment.chapter}): {experiment.summary}")
    log(f"  files: {len(results.manifest['files'])} verified (sha256), config hash current; "
        f"seeds {', '.join(map(str, results.seeds))}; training time per seed "
        + ", ".join(f"{seconds[s]:.0f} s" for s in results.seeds))
    strays = results.strays()
    if strays:
        log(f"  [note] {len(strays)} file{'s' if len(strays) > 1 else ''} not in the manifest "
            f"(a stopped run's; never read): {', '.join(strays)}; delete "
            f"{'them' if len(strays) > 1 else 'it'} or resume the run")
    ok = True
    for text, verdict in results.verdicts():
        if verdict.holds and verdict.explained:
            log(f"  [HOLDS, NOTE STALE] {text}: {verdict.detail}; its known_failure note "
                f"says otherwise: remove the note")
            ok = False
        elif verdict.explained:
            log(f"  [fails, explained] {text}: {verdict.detail}. Why: {verdict.explained}")
        else:
            log(f"  [{'holds' if verdict.holds else 'FAILS'}] {text}: {verdict.detail}")
            ok &= verdict.holds
    if replay_steps > 0:
        agrees, line = replay(results, replay_steps, root=root)
        log(f"  [{'same' if agrees else 'DIFFERS'}] {line}")
        ok &= agrees
    return ok
