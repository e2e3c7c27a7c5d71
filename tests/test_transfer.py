"""Freezing, per-depth learning rates and the few-shot subsets of the transfer experiment."""

import pytest
import torch
from torch import nn

from cnncourse.transfer import (
    count_trainable,
    few_per_class,
    freeze,
    layerwise_param_groups,
    select_classes,
)


def _stages():
    torch.manual_seed(0)
    return [nn.Conv2d(1, 2, 3), nn.Conv2d(2, 3, 3), nn.Linear(12, 2)]  # 6x6 -> 4x4 -> 2x2


def test_freeze_turns_off_every_parameter_of_that_module_only():
    body, head = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)), nn.Linear(4, 2)
    assert freeze(body) is body
    assert all(not p.requires_grad for p in body.parameters())
    assert all(p.requires_grad for p in head.parameters())
    assert count_trainable(nn.Sequential(body, head)) == 4 * 2 + 2


def test_last_stage_gets_base_lr_and_earlier_stages_decay():
    stages = _stages()
    groups = layerwise_param_groups(stages, base_lr=0.1, decay=0.5)
    assert [g["lr"] for g in groups] == pytest.approx([0.025, 0.05, 0.1])
    for group, stage in zip(groups, stages, strict=True):
        assert [id(p) for p in group["params"]] == [id(p) for p in stage.parameters()]


def test_frozen_parameters_are_left_out_and_empty_groups_dropped():
    stages = _stages()
    freeze(stages[0])
    stages[1].bias.requires_grad_(False)
    groups = layerwise_param_groups(stages, base_lr=1.0, decay=0.1)
    assert len(groups) == 2
    assert groups[0]["params"] == [stages[1].weight]
    assert groups[0]["lr"] == pytest.approx(0.1)   # still one stage before the last
    assert groups[1]["lr"] == pytest.approx(1.0)
    assert layerwise_param_groups([freeze(nn.Linear(2, 2))], 0.1, 0.5) == []


def test_an_sgd_step_moves_each_stage_by_its_own_learning_rate():
    stages = _stages()
    model = nn.Sequential(stages[0], stages[1], nn.Flatten(), stages[2])
    opt = torch.optim.SGD(layerwise_param_groups(stages, base_lr=0.1, decay=0.1), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    model(torch.randn(2, 1, 6, 6)).sum().backward()
    opt.step()
    lrs = [0.001, 0.001, 0.01, 0.01, 0.1, 0.1]  # weight and bias of each stage
    for p, old, lr in zip(model.parameters(), before, lrs, strict=True):
        torch.testing.assert_close(old - p.detach(), lr * p.grad)


def test_select_classes_keeps_and_relabels_in_the_given_order():
    images = torch.arange(8.0).view(8, 1)
    labels = torch.tensor([5, 0, 7, 5, 9, 1, 7, 3])
    x, y = select_classes(images, labels, [7, 5])
    assert y.tolist() == [1, 0, 1, 0]
    assert x.squeeze(1).tolist() == [0.0, 2.0, 3.0, 6.0]


def test_few_per_class_takes_exactly_k_of_each_class_and_depends_on_the_seed():
    labels = torch.arange(5).repeat_interleave(20)
    images = torch.arange(100.0)
    x, y = few_per_class(images, labels, 3, seed=0)
    assert torch.bincount(y).tolist() == [3] * 5
    assert torch.equal(labels[x.long()], y)
    assert not torch.equal(few_per_class(images, labels, 3, seed=1)[0], x)
    with pytest.raises(ValueError, match="fewer than"):
        few_per_class(images, labels, 21)
