"""Learning rates picked by a stored sweep, as the papers pick them ("chosen independently
to make training as fast as possible", Krizhevsky et al. 2012, Figure 1).

A sweep is an ordinary experiment whose arms are named ``<model>_lr<rate>``; the experiment
that uses its choice lists it in ``depends_on`` and reads it with ``best_lr`` inside its run,
so re-running the sweep makes the results that used it stale.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from cnncourse.lab.loop import RunContext
from cnncourse.lab.results import Results


def lr_arm(model: str, lr: float) -> str:
    """The sweep's arm name for ``model`` at rate ``lr``: ``relu_lr0.03``."""
    return f"{model}_lr{lr:g}"


def load_dependency(name: str, ctx: RunContext) -> Results:
    """The verified results of experiment ``name`` in the run's results folder."""
    from cnncourse.lab.registry import get_experiment

    experiment = get_experiment(name)
    return Results.load(experiment, experiment.config.data, ctx.root)


def best_lr(sweep: Results, model: str, lrs: tuple[float, ...],
            score: Callable[[Results, str], np.ndarray]) -> float:
    """The rate whose arm has the lowest median ``score`` over the sweep's seeds (ties: the
    smaller rate). ``score(results, arm)`` returns one number per seed."""
    medians = [float(np.median(score(sweep, lr_arm(model, lr)))) for lr in lrs]
    return lrs[int(np.argmin(medians))]
