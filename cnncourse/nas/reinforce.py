"""REINFORCE (Williams 1992) with a moving-average baseline, as Zoph and Le train the controller.

The gradient of the expected reward J = E[R] is E[(R - b) * grad log pi(a)]: raise the
log-probability of architectures whose reward beat the baseline b, lower it for the others.
Subtracting b leaves the expectation unchanged but reduces its variance. We minimise the loss
-(1/m) * sum_i (R_i - b) * log pi(a_i) over a batch of m sampled architectures.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from cnncourse.nas.controller import Controller
from cnncourse.nas.space import Architecture


class MovingAverageBaseline:
    """b <- decay * b + (1 - decay) * mean reward of the batch; the first batch sets b."""

    def __init__(self, decay: float = 0.8) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.value: float | None = None

    def update(self, rewards: Sequence[float]) -> float:
        mean = float(sum(rewards) / len(rewards))
        self.value = mean if self.value is None else (
            self.decay * self.value + (1 - self.decay) * mean)
        return self.value


def reinforce_loss(controller: Controller, archs: Sequence[Architecture],
                   rewards: Sequence[float], baseline: float) -> torch.Tensor:
    """-(1/m) sum_i (R_i - b) log pi(a_i): its gradient is minus the REINFORCE
    estimate."""
    if len(archs) != len(rewards) or not archs:
        raise ValueError(f"need one reward per architecture, got {len(archs)} "
                         f"architectures and {len(rewards)} rewards")
    advantages = torch.tensor([r - baseline for r in rewards], dtype=torch.float32)
    log_probs = torch.stack([controller.log_prob(a) for a in archs])
    return -(advantages * log_probs).mean()


def reinforce_gradient(controller: Controller, archs: Sequence[Architecture],
                       rewards: Sequence[float], baseline: float) -> list[torch.Tensor]:
    """The gradient of ``reinforce_loss`` with respect to each decision's logits (one tensor
    per decision), without touching ``.grad``: what one plain gradient step subtracts."""
    loss = reinforce_loss(controller, archs, rewards, baseline)
    return list(torch.autograd.grad(loss, list(controller.logits)))


def reinforce_step(controller: Controller, optimizer: torch.optim.Optimizer,
                   archs: Sequence[Architecture], rewards: Sequence[float],
                   baseline: float) -> float:
    """One policy-gradient step on a batch; returns the loss before the step."""
    optimizer.zero_grad()
    loss = reinforce_loss(controller, archs, rewards, baseline)
    loss.backward()
    optimizer.step()
    return loss.item()
