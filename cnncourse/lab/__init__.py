"""The course lab: experiments too long for a chapter, run once, stored, and checked.

An experiment is data plus code (``spec.Experiment``): a frozen config, the arms it trains
for every seed, and claims written before the run. ``cnncourse lab run NAME`` stores its
results in ``results/NAME/`` with a manifest; ``cnncourse lab check`` verifies them,
decides every claim and replays the first steps. Chapters read results with ``load``::

    from cnncourse import lab
    results = lab.load("degradation")      # LabError if missing, edited or stale
    results.history("plain56", "train_error")   # (seeds, epochs)

Modules: ``spec`` (what an experiment is), ``experiments/`` (one module each),
``registry`` (them by name), ``datasets`` and ``loop`` (data and training), ``runner``
(running and storing), ``results`` (the store, read back and verified), ``check``, ``cli``.
"""

from __future__ import annotations

from pathlib import Path

from cnncourse.lab.results import Results
from cnncourse.lab.spec import ArmResult, Claim, Experiment, LabError, Verdict


def experiments() -> dict[str, Experiment]:
    """Every experiment of the lab, by name, dependencies first."""
    from cnncourse.lab.registry import experiments as registered

    return registered()


def load(name: str, data: str | None = None, root: str | Path | None = None) -> Results:
    """The verified results of experiment ``name`` (on data set ``data``, default the
    experiment's own). Raises ``LabError``, one line naming the command to run, when they
    are missing, edited, incomplete or stale (made under another config)."""
    from cnncourse.lab.registry import get_experiment

    experiment = get_experiment(name)
    default = experiment.config.data
    if data is not None and data != default:
        experiment = experiment.with_config(data=data)
    return Results.load(experiment, default, Path(root) if root is not None else None)


__all__ = ["ArmResult", "Claim", "Experiment", "LabError", "Results", "Verdict",
           "experiments", "load"]
