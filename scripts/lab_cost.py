"""Estimate what `make lab` costs in CPU time, experiment by experiment (a benchmark, not a
test).

The stored wall times were measured on a shared machine, often with other runs beside
them, so they overstate the cost. This script measures it instead: for every arm of every
complete experiment it replays the first few training steps twice (``SHORT`` and ``LONG``
steps, one thread), takes the CPU time of one step from the difference, and multiplies by
the arm's stored number of steps and seeds. The set-up (data, model) is counted once per
arm and seed. Evaluations between epochs are not replayed; where an arm recorded its own
CPU time (runs since the manifests carry it), that figure is printed beside the estimate.

Usage: .venv/bin/python scripts/lab_cost.py [NAME ...]
"""

from __future__ import annotations

import sys
import time

import torch

from cnncourse.lab import registry
from cnncourse.lab.loop import ReplayDone, RunContext
from cnncourse.lab.results import Results
from cnncourse.lab.runner import deterministic
from cnncourse.lab.spec import LabError

SHORT, LONG = 3, 13


def _cpu_of_steps(experiment, arm: str, seed: int, steps: int) -> float:
    ctx = RunContext(record_steps=steps, stop_after=steps)
    with deterministic(1):
        torch.manual_seed(seed)
        start = time.process_time()
        try:
            experiment.run_arm(experiment.config, arm, seed, ctx)
        except ReplayDone:
            pass
        return time.process_time() - start


def arm_cost(results: Results, arm: str) -> tuple[float | None, float | None]:
    """(estimated CPU seconds over all seeds, recorded CPU seconds or None); (None, None)
    for an arm without a step history to scale by."""
    seed = results.seeds[0]
    stored = results.arm(seed, arm)
    steps = stored["history"].get("step")
    if not steps or not stored["first_steps"]:
        return None, None
    short = _cpu_of_steps(results.experiment, arm, seed, SHORT)
    long = _cpu_of_steps(results.experiment, arm, seed, LONG)
    per_step = max(0.0, (long - short) / (LONG - SHORT))
    setup = max(0.0, short - SHORT * per_step)
    estimate = len(results.seeds) * (setup + per_step * steps[-1])
    entries = [results.manifest["arms"][str(s)][arm] for s in results.seeds]
    recorded = (sum(e["cpu_seconds"] for e in entries)
                if all("cpu_seconds" in e for e in entries) else None)
    return estimate, recorded


def main(names: list[str]) -> None:
    experiments = [registry.get_experiment(n) for n in names] if names else list(
        registry.experiments().values())
    total = 0.0
    for experiment in experiments:
        try:
            results = Results.load(experiment, experiment.config.data)
        except LabError as error:
            print(f"{experiment.name:16s} not stored: {error}")
            continue
        estimated, recorded, unscaled = 0.0, 0.0, []
        for arm in results.arms:
            estimate, seen = arm_cost(results, arm)
            if estimate is None:
                unscaled.append(arm)
                continue
            estimated += estimate
            recorded += seen or 0.0
        wall = sum(results.wall_seconds().values())
        total += estimated
        note = f", {len(unscaled)} arms without steps (not counted)" if unscaled else ""
        seen = f", recorded CPU {recorded / 60:6.1f} min" if recorded else ""
        print(f"{experiment.name:16s} estimated CPU {estimated / 60:6.1f} min "
              f"(stored wall {wall / 60:6.1f} min{seen}{note})", flush=True)
    print(f"{'total':16s} estimated CPU {total / 3600:.1f} h: {total / 7200:.1f} h on 2 cores")


if __name__ == "__main__":
    main(sys.argv[1:])
