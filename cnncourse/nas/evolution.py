"""Regularised evolution (Real et al. 2019, Algorithm 1), the search behind AmoebaNet.

Keep a population of ``population`` architectures, each with its reward. Every cycle:

1. draw ``sample`` members of the population at random (with replacement, as Algorithm 1);
2. the best of them is the parent; its child is a mutation of it (here: one randomly chosen
   decision set to a different option);
3. evaluate the child and add it to the population;
4. remove the OLDEST member (aging), not the worst.

Aging is the "regularisation": an architecture survives only by having good children, not
by one lucky evaluation, so a noisy reward cannot keep a mediocre network in the population
forever. With ``aging=False`` the worst member is removed instead (the non-regularised
tournament selection the paper compares against).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from cnncourse.nas.search import RewardFn, SearchResult
from cnncourse.nas.space import Architecture


@dataclass
class EvolutionResult(SearchResult):
    """A search's samples (the first ``population`` at random, then one child a cycle) and,
    per cycle, the position in ``archs`` of the member that was removed."""

    removed: list[int] = field(default_factory=list)


def random_architecture(space, rng: np.random.Generator) -> Architecture:
    """One option per decision, uniformly."""
    return tuple(int(rng.integers(len(d.options))) for d in space.decisions)


def mutate(space, arch: Architecture, rng: np.random.Generator) -> Architecture:
    """``arch`` with one randomly chosen decision changed to another of its options."""
    k = int(rng.integers(len(arch)))
    options = len(space.decisions[k].options)
    new = (arch[k] + 1 + int(rng.integers(options - 1))) % options
    return arch[:k] + (new,) + arch[k + 1:]


def regularized_evolution(space, reward_fn: RewardFn, budget: int, population: int = 20,
                          sample: int = 5, seed: int = 0, aging: bool = True
                          ) -> EvolutionResult:
    """``budget`` evaluations: ``population`` random architectures, then one child
    a cycle, a mutation of the best of ``sample`` members drawn at random; the
    oldest member leaves (the worst, with ``aging=False``)."""
    if not 2 <= sample <= population <= budget:
        raise ValueError(f"need 2 <= sample <= population <= budget, got {sample}, "
                         f"{population}, {budget}")
    rng = np.random.default_rng(seed)
    result = EvolutionResult()
    alive: deque[int] = deque()  # positions in result.archs, oldest first

    def evaluate(arch: Architecture) -> None:
        result.archs.append(arch)
        result.rewards.append(reward_fn(arch))
        alive.append(len(result.archs) - 1)

    while len(alive) < population:
        evaluate(random_architecture(space, rng))
    while len(result.archs) < budget:
        members = list(alive)
        drawn = [members[int(i)] for i in rng.integers(len(members), size=sample)]
        parent = max(drawn, key=lambda i: result.rewards[i])
        evaluate(mutate(space, result.archs[parent], rng))
        if aging:
            gone = alive.popleft()
        else:
            gone = min(alive, key=lambda i: (result.rewards[i], i))
            alive.remove(gone)
        result.removed.append(gone)
    result.final = result.archs[max(alive, key=lambda i: result.rewards[i])]
    return result
