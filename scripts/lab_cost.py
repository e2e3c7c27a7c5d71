"""Estimate what `make lab` costs in CPU time, experiment by experiment (a benchmark, not a
test).

The stored wall times were measured on a shared machine, often with other runs beside
them, so they overstate the cost. This script measures it instead: for every arm of every
complete experiment it replays the first few training steps twice (``SHORT`` and ``LONG``
steps, one thread), takes the CPU time of one step from the difference, and multiplies by
the arm's stored number of steps and seeds. The set-up (data, model) is counted once per
arm and seed, and one held-out evaluation of the replayed model, timed, once per stored
period. Analyses after training (a few arms' extras) are not counted; where an arm recorded
its own CPU time (runs since the manifests carry it), that figure is printed beside the
estimate.

Usage: .venv/bin/python scripts/lab_cost.py [NAME ...]
"""

from __future__ import annotations

import sys
import time

import torch

from cnncourse.lab import registry
from cnncourse.lab.check import replay_arm
from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext, evaluate
from cnncourse.lab.results import Results
from cnncourse.lab.spec import LabError

# A fresh model's first ~15 steps carry one-time costs (kernel set-up): the difference
# between 3 and 13 steps came out near zero for scaling's base net, whose steady step is 35 ms.
# And the first replay of an arm in a process carries more (batchnorm's: 2.2 s for 20 steps,
# then 0.3 s for 60), so each arm is replayed once, unmeasured, first.
SHORT, LONG = 20, 60


def _cpu_of_steps(results: Results, arm: str, steps: int) -> tuple[float, RunContext]:
    ctx = RunContext()
    start = time.process_time()
    replay_arm(results.experiment, arm, results.seeds[0], steps, ctx=ctx)
    return time.process_time() - start, ctx


def _cpu_of_evaluation(ctx: RunContext) -> float:
    """CPU seconds of one held-out evaluation of the replayed model (the second of two: the
    first carries the same one-time costs as a fresh model's first steps)."""
    model, data = ctx.trained
    evaluate(model, data, ctx.device)
    start = time.process_time()
    evaluate(model, data, ctx.device)
    return time.process_time() - start


def arm_cost(results: Results, arm: str) -> float | None:
    """Estimated CPU seconds of one arm over all seeds: set-up, training steps and one
    held-out evaluation per period; None for an arm without a step history to scale by."""
    stored = results.arm(results.seeds[0], arm)
    history = stored["history"]
    steps = history.get("step")
    if not steps or not stored["first_steps"]:
        return None
    _cpu_of_steps(results, arm, SHORT)   # the process's and the arm's first-time costs
    short, _ = _cpu_of_steps(results, arm, SHORT)
    long, ctx = _cpu_of_steps(results, arm, LONG)
    per_step = max(0.0, (long - short) / (LONG - SHORT))
    setup = max(0.0, short - SHORT * per_step)
    evaluations = 0.0
    if "test_error" in history and ctx.trained is not None:
        evaluations = len(history["test_error"]) * _cpu_of_evaluation(ctx)
    return len(results.seeds) * (setup + per_step * steps[-1] + evaluations)


def main(names: list[str]) -> None:
    torch.set_num_threads(1)   # as the runs: one thread each
    experiments = [registry.get_experiment(n) for n in names] if names else list(
        registry.experiments().values())
    total = 0.0
    for experiment in experiments:
        try:
            results = Results.load(experiment, experiment.config.data)
        except LabError as error:
            print(f"{experiment.name:16s} not stored: {error}")
            continue
        load_data(experiment.config.data)  # made once, before the clock starts (as a run)
        costs = {arm: arm_cost(results, arm) for arm in results.arms}
        estimated = sum(c for c in costs.values() if c is not None)
        unscaled = [arm for arm, c in costs.items() if c is None]
        wall = sum(results.wall_seconds().values())
        recorded = results.cpu_seconds()   # None unless every arm recorded its CPU time
        total += estimated
        note = f", {len(unscaled)} arms without steps (not counted)" if unscaled else ""
        seen = f", recorded CPU {sum(recorded.values()) / 60:6.1f} min" if recorded else ""
        print(f"{experiment.name:16s} estimated CPU {estimated / 60:6.1f} min "
              f"(stored wall {wall / 60:6.1f} min{seen}{note})", flush=True)
    print(f"{'total':16s} estimated CPU {total / 3600:.1f} h: {total / 7200:.1f} h on 2 cores")


if __name__ == "__main__":
    main(sys.argv[1:])
