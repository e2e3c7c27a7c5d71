"""What an experiment is: a frozen config, the arms it trains per seed, and its claims.

An experiment runs its ``arms`` (the models or settings it compares: "plain20",
"residual56", ...) once per seed. Each arm is one call of ``run_arm(config, arm, seed, ctx)``
returning an ``ArmResult``; the runner stores it as soon as it finishes, so a stopped run
keeps every arm already done. ``claims`` are predicates over the stored results, written
down (and committed) before the run, so a result cannot choose its own test.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for annotations: the results module imports this one
    from cnncourse.lab.results import Results


class LabError(Exception):
    """A missing, edited or stale result, or an unknown experiment: one line saying what
    to run. The command prints it without a traceback; the book build stops on it."""


@dataclass
class ArmResult:
    """What one arm of one seed produced.

    history:     per period (an epoch, or a fixed number of steps): lists of equal length,
                 e.g. ``train_loss``, ``train_error``, ``test_loss``, ``test_error``, ``lr``;
    final:       scalar metrics at the end (``test_error``, ``steps_to_25``, ...);
    extra:       anything else a chapter plots (JSON: numbers, lists, dicts of them);
    weights:     a ``state_dict`` to store beside it, only where a chapter needs the model;
    first_steps: the training loss of the first optimiser steps, filled in by the training
                 loop; ``check`` replays them to show the stored numbers come from this code.
    """

    history: dict[str, list[float]] = field(default_factory=dict)
    final: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    weights: dict[str, Any] | None = None
    first_steps: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"history": self.history, "final": self.final, "extra": self.extra,
                "first_steps": self.first_steps}


@dataclass(frozen=True)
class Verdict:
    """A claim's outcome on the stored results, with the numbers that decided it; for a
    claim that fails, ``explained`` is its ``Claim.known_failure`` (empty if none)."""

    holds: bool
    detail: str
    explained: str = ""


@dataclass(frozen=True)
class Claim:
    """A sentence and the predicate that decides it on the results (``Results -> Verdict``).

    known_failure: for a claim the stored run did not bear out, why, written after the run
    (the claim itself stays as it was stated). ``check`` then reports the failure with this
    reason instead of failing, the book prints both, and a note left on a claim that holds
    again is itself a failure, so the explanation cannot outlive what it explains.
    """

    text: str
    test: Callable[[Results], Verdict]
    known_failure: str = ""


@dataclass(frozen=True)
class Experiment:
    """An experiment as data: its config (a frozen dataclass with ``seeds`` and ``data``
    fields), how to list and run its arms, its claims, and what it depends on.

    depends_on: experiments whose stored results ``run_arm`` reads (a learning-rate sweep);
                their manifests' hashes are recorded, so re-running one makes this stale.
    """

    name: str
    chapter: str
    summary: str
    config: Any
    arms: Callable[[Any], Sequence[str]]
    run_arm: Callable[..., ArmResult]
    claims: tuple[Claim, ...] = ()
    depends_on: tuple[str, ...] = ()

    def arm_names(self, config: Any | None = None) -> list[str]:
        return list(self.arms(self.config if config is None else config))

    def with_config(self, **changes: Any) -> Experiment:
        """The same experiment with some config fields changed (``data="cifar10"``, seeds)."""
        return dataclasses.replace(self, config=dataclasses.replace(self.config, **changes))


def config_dict(config: Any) -> dict[str, Any]:
    """A config as plain JSON-able data (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def config_hash(config: Any) -> str:
    """sha256 of the config's canonical JSON, ``seeds`` left out: any other change makes the
    stored results stale, while adding a seed only asks for that seed to be run."""
    data = {k: v for k, v in config_dict(config).items() if k != "seeds"}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
