"""The lab's experiments by name, in the order ``make lab`` runs them (dependencies first)."""

from __future__ import annotations

import functools

from cnncourse.lab.spec import Experiment, LabError


@functools.cache
def experiments() -> dict[str, Experiment]:
    """Every experiment, keyed by name; an experiment comes after those it depends on."""
    from cnncourse.lab.experiments import ALL

    ordered: dict[str, Experiment] = {}
    for experiment in ALL:
        missing = [d for d in experiment.depends_on if d not in ordered]
        if missing:
            raise AssertionError(f"{experiment.name} is listed before {missing}")
        ordered[experiment.name] = experiment
    return ordered


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name``; ``LabError`` naming the known ones otherwise."""
    known = experiments()
    if name not in known:
        raise LabError(f"unknown experiment {name!r}; choose one of: {', '.join(known)} "
                       "(see: cnncourse lab list)")
    return known[name]
