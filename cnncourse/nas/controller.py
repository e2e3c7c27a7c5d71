"""The controller: a policy that samples one option per decision.

Zoph and Le's controller is a recurrent network whose every choice is conditioned on the
choices before it. Ours is the simplest policy that REINFORCE can train: an independent
softmax over the options of each decision (a table of logits, all zero at the start, so the
first samples are uniform). The log-probability of an architecture is the sum of the
log-probabilities of its choices.
"""

from __future__ import annotations

import torch
from torch import nn

from cnncourse.nas.space import Architecture, SearchSpace


class Controller(nn.Module):
    """One learnable logit per option of every decision in ``space``."""

    def __init__(self, space: SearchSpace) -> None:
        super().__init__()
        self.space = space
        self.logits = nn.ParameterList(
            nn.Parameter(torch.zeros(len(d.options))) for d in space.decisions)

    def probabilities(self) -> list[torch.Tensor]:
        """The current distribution over the options of each decision."""
        return [torch.softmax(logit, dim=0) for logit in self.logits]

    @torch.no_grad()
    def sample(self, generator: torch.Generator) -> Architecture:
        """Draw an architecture: one option index per decision, from ``generator`` only."""
        return tuple(int(torch.multinomial(p, 1, generator=generator))
                     for p in self.probabilities())

    def log_prob(self, arch: Architecture) -> torch.Tensor:
        """log pi(arch) = sum over decisions of log softmax(logits)[choice];
        differentiable."""
        terms = [torch.log_softmax(logit, dim=0)[choice]
                 for logit, choice in zip(self.logits, arch, strict=True)]
        return torch.stack(terms).sum()

    @torch.no_grad()
    def most_likely(self) -> Architecture:
        """The architecture with the highest probability (the arg-max of every decision)."""
        return tuple(int(logit.argmax()) for logit in self.logits)
