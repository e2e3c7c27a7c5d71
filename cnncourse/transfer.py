"""Reusing a trained network for a new task: freezing, per-depth learning rates, few-shot data.

The three recipes the course compares (Yosinski et al. 2014, "How transferable are features in
deep neural networks?", arXiv:1411.1792; Howard and Ruder 2018, "Universal Language Model
Fine-tuning", arXiv:1801.06146, for learning rates that shrink with depth):

- from scratch: a fresh network trained on the few new labels;
- frozen features: ``freeze`` the pre-trained body, train only a new head;
- fine-tuning: train everything, earlier stages with smaller learning rates
  (``layerwise_param_groups``), since their general features need the least change.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def freeze(module: nn.Module) -> nn.Module:
    """Stop training ``module``: ``requires_grad = False`` on all its parameters.
    Returns it.

    Only the parameters: a BatchNorm inside still updates its running statistics in
    train mode; call ``module.eval()`` as well to freeze those.
    """
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module


def trainable_parameters(module: nn.Module) -> list[nn.Parameter]:
    """The parameters of ``module`` that an optimiser should update."""
    return [p for p in module.parameters() if p.requires_grad]


def count_trainable(module: nn.Module) -> int:
    """Number of trainable scalars in ``module``."""
    return sum(p.numel() for p in trainable_parameters(module))


def layerwise_param_groups(stages: Sequence[nn.Module], base_lr: float,
                           decay: float) -> list[dict]:
    """Optimizer parameter groups with a learning rate per stage, smallest for the
    earliest.

    stages: the network's parts from input to output. The LAST stage gets ``base_lr``;
    the stage ``k`` places before it gets ``base_lr * decay ** k``. Frozen parameters
    (``requires_grad=False``) are left out, and a stage with none left gives no group.
    Returns ``[{"params": [...], "lr": ...}, ...]`` in stage order, ready for
    ``torch.optim.SGD(groups, lr=base_lr, momentum=0.9)``. A parameter shared by two
    stages goes only in the first one (an optimiser refuses a parameter in two groups).
    """
    groups, seen = [], set()
    last = len(stages) - 1
    for index, stage in enumerate(stages):
        params = []
        for p in stage.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append(p)
        if params:
            groups.append({"params": params, "lr": base_lr * decay ** (last - index)})
    return groups


def select_classes(images: torch.Tensor, labels: torch.Tensor,
                   classes: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Only the examples of ``classes``, relabelled ``0 .. len(classes)-1`` in that order
    (digits 5-9 become labels 0-4, ready for a 5-way head)."""
    lookup = torch.full((int(labels.max()) + 1,), -1, dtype=torch.long)
    lookup[torch.as_tensor(list(classes))] = torch.arange(len(classes))
    new_labels = lookup[labels]
    keep = new_labels >= 0
    return images[keep], new_labels[keep]


def few_per_class(images: torch.Tensor, labels: torch.Tensor, per_class: int,
                  seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A random labelled subset with exactly ``per_class`` examples of every class."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in labels.unique():
        members = (labels == c).nonzero().squeeze(1)
        if len(members) < per_class:
            raise ValueError(f"class {int(c)} has {len(members)} examples, "
                             f"fewer than per_class={per_class}")
        chosen.append(members[torch.randperm(len(members), generator=generator)[:per_class]])
    index = torch.cat(chosen).sort().values
    return images[index], labels[index]
