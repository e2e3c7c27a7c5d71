"""The two searches compared in the chapter, at the same budget of child trainings.

- ``reinforce_search``: sample a batch of architectures from the controller, score them,
  take one REINFORCE step against a moving-average baseline, repeat.
- ``random_search``: sample uniformly from the space (a controller that never learns).

Both use their own seeded generator for sampling, so a run is reproducible.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from cnncourse.nas.controller import Controller
from cnncourse.nas.reinforce import MovingAverageBaseline, reinforce_step
from cnncourse.nas.space import Architecture, SearchSpace

RewardFn = Callable[[Architecture], float]


@dataclass
class SearchResult:
    """Every sampled architecture and its reward, in order; ``baselines`` per REINFORCE step."""

    archs: list[Architecture] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    baselines: list[float] = field(default_factory=list)
    final: Architecture | None = None  # the controller's most likely architecture at the end

    @property
    def best_so_far(self) -> list[float]:
        """The best reward seen after each sample (the curve a search is judged by)."""
        out, best = [], float("-inf")
        for r in self.rewards:
            best = max(best, r)
            out.append(best)
        return out

    @property
    def best(self) -> tuple[Architecture, float]:
        i = max(range(len(self.rewards)), key=self.rewards.__getitem__)
        return self.archs[i], self.rewards[i]


def reinforce_search(space: SearchSpace, reward_fn: RewardFn, budget: int, batch_size: int = 4,
                     lr: float = 0.2, decay: float = 0.8, seed: int = 0) -> SearchResult:
    """``budget`` samples in batches of ``batch_size``, one REINFORCE step per batch (Adam)."""
    generator = torch.Generator().manual_seed(seed)
    controller = Controller(space)
    optimizer = torch.optim.Adam(controller.parameters(), lr=lr)
    baseline = MovingAverageBaseline(decay)
    result = SearchResult()
    while len(result.archs) < budget:
        m = min(batch_size, budget - len(result.archs))
        archs = [controller.sample(generator) for _ in range(m)]
        rewards = [reward_fn(a) for a in archs]
        # the baseline before this batch (the batch's own mean on the first step)
        b = baseline.value if baseline.value is not None else sum(rewards) / m
        reinforce_step(controller, optimizer, archs, rewards, b)
        baseline.update(rewards)
        result.archs += archs
        result.rewards += rewards
        result.baselines.append(b)
    result.final = controller.most_likely()
    return result


def random_search(space: SearchSpace, reward_fn: RewardFn, budget: int,
                  seed: int = 0) -> SearchResult:
    """``budget`` architectures drawn uniformly (an untrained controller never updates)."""
    generator = torch.Generator().manual_seed(seed)
    controller = Controller(space)
    result = SearchResult()
    for _ in range(budget):
        arch = controller.sample(generator)
        result.archs.append(arch)
        result.rewards.append(reward_fn(arch))
    return result
