"""The lab's training loop: a schedule as data, histories per period, replayable first steps.

``cnncourse.train.fit`` is the book's loop, for runs of seconds. The lab's runs are long and
stored, so this loop adds what they need: the papers' step schedules (the rate divided by 10
at fixed fractions of the run), augmentation, a held-out evaluation every period (an epoch,
or a fixed number of steps for curves finer than an epoch), and a record of the first steps'
losses, which ``cnncourse lab check`` recomputes to show the stored curve comes from this
code. Everything random (order, crops, flips) comes from one generator seeded by the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.lab.datasets import ImageData, batch


@dataclass(frozen=True)
class Schedule:
    """How to train: optimiser, rate, and when the rate drops.

    optimizer:  "sgd" (with ``momentum``) or "adam";
    milestones: fractions of the run after which the rate is divided by 10 (He et al.
                2016 on CIFAR-10: 0.5 and 0.75 of the run);
    label_smoothing: epsilon of the smoothed cross-entropy (0: the plain one).
    """

    epochs: int
    lr: float
    batch_size: int = 128
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 0.0
    milestones: tuple[float, ...] = ()
    augment: bool = True
    label_smoothing: float = 0.0

    def lr_at(self, step: int, total: int) -> float:
        drops = sum(step >= round(m * total) for m in self.milestones)
        return self.lr * 0.1 ** drops


class ReplayDone(Exception):
    """Raised by the loop once a replay has recomputed the steps it was asked for."""


@dataclass
class RunContext:
    """What the runner tells a run: the device, and how many first-step losses to record;
    for a replay, after how many steps to stop (``stop_after``)."""

    device: str = "cpu"
    record_steps: int = 10
    stop_after: int | None = None
    first_steps: list[float] = field(default_factory=list)
    progress: Callable[[str], None] | None = None  # a line per period, for long runs' logs
    root: Path | None = None  # the results folder, for experiments that read another's
    # the model and data ``train`` is working on, set as it starts: scripts/lab_cost.py
    # times an evaluation on them after a replay
    trained: tuple[nn.Module, ImageData] | None = None

    def step_done(self, loss: float) -> None:
        if len(self.first_steps) < self.record_steps:
            self.first_steps.append(loss)
        if self.stop_after is not None and len(self.first_steps) >= self.stop_after:
            raise ReplayDone


def make_optimizer(model: nn.Module, schedule: Schedule) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if schedule.optimizer == "sgd":
        return torch.optim.SGD(params, lr=schedule.lr, momentum=schedule.momentum,
                               weight_decay=schedule.weight_decay)
    if schedule.optimizer == "adam":
        return torch.optim.Adam(params, lr=schedule.lr, weight_decay=schedule.weight_decay)
    raise ValueError(f"unknown optimizer {schedule.optimizer!r}: use 'sgd' or 'adam'")


@torch.no_grad()
def logits_of(model: nn.Module, data: ImageData, images: torch.Tensor, device: str = "cpu",
              batch_size: int = 500) -> torch.Tensor:
    """The model's logits for uint8 ``images``, in eval mode, in batches."""
    was_training = model.training
    model.eval()
    try:
        out = [model(batch(data, images[i:i + batch_size]).to(device)).float().cpu()
               for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(out)


def loss_and_error(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy and the fraction misclassified."""
    loss = F.cross_entropy(logits, labels).item()
    return loss, (logits.argmax(dim=1) != labels).float().mean().item()


def evaluate(model: nn.Module, data: ImageData, device: str = "cpu",
             train: bool = False) -> tuple[float, float]:
    """(loss, error) on the held-out set, or on the training set without augmentation."""
    images, labels = (data.train_x, data.train_y) if train else (data.test_x, data.test_y)
    return loss_and_error(logits_of(model, data, images, device), labels)


def train(model: nn.Module, data: ImageData, schedule: Schedule, ctx: RunContext, seed: int,
          period_steps: int | None = None, evaluate_test: bool = True,
          optimizer: torch.optim.Optimizer | None = None,
          stop_below: float | None = None) -> dict[str, list[float]]:
    """Train ``model`` and return its history: per period, the mean training loss and error
    over the period's batches (in training mode, augmented, as the papers plot them), the
    held-out loss and error after it, the rate, and the seconds it took.

    A period is an epoch, or ``period_steps`` optimiser steps. The last incomplete batch of
    an epoch is dropped, so every step sees ``batch_size`` images. A ready ``optimizer``
    (parameter groups with rates of their own) replaces the schedule's; the milestones
    still divide every group's rate by 10. ``stop_below``: stop after the first period whose
    training error is below it (a run that only asks how soon a level is reached).
    """
    device = ctx.device
    model.to(device).train()
    ctx.trained = (model, data)
    generator = torch.Generator().manual_seed(seed)
    optimizer = optimizer if optimizer is not None else make_optimizer(model, schedule)
    base_rates = [group["lr"] for group in optimizer.param_groups]
    per_epoch = len(data.train_x) // schedule.batch_size
    if per_epoch == 0:
        raise ValueError(f"{len(data.train_x)} training images make no batch of "
                         f"{schedule.batch_size}")
    total = schedule.epochs * per_epoch
    period = period_steps or per_epoch
    history: dict[str, list[float]] = {k: [] for k in (
        "step", "train_loss", "train_error", "test_loss", "test_error", "lr", "seconds")}
    loss_sum = wrong = seen = 0.0
    start = time.perf_counter()
    step, reached = 0, False
    for _ in range(schedule.epochs):
        if reached:
            break
        order = torch.randperm(len(data.train_x), generator=generator)
        for i in range(per_epoch):
            index = order[i * schedule.batch_size:(i + 1) * schedule.batch_size]
            x = batch(data, data.train_x[index], schedule.augment, generator).to(device)
            y = data.train_y[index].to(device)
            lr = schedule.lr_at(step, total)
            for group, base in zip(optimizer.param_groups, base_rates, strict=True):
                group["lr"] = base * lr / schedule.lr
            logits = model(x)
            loss = F.cross_entropy(logits, y, label_smoothing=schedule.label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            value = loss.item()
            loss_sum += value * len(y)
            wrong += (logits.argmax(dim=1) != y).sum().item()
            seen += len(y)
            ctx.step_done(value)
            if step % period == 0 or step == total:
                history["step"].append(step)
                history["train_loss"].append(loss_sum / seen)
                history["train_error"].append(wrong / seen)
                history["lr"].append(lr)
                if evaluate_test:
                    test_loss, test_error = evaluate(model, data, device)
                    history["test_loss"].append(test_loss)
                    history["test_error"].append(test_error)
                history["seconds"].append(time.perf_counter() - start)
                if ctx.progress is not None:
                    held_out = (f", test error {history['test_error'][-1]:.3f}"
                                if evaluate_test else "")
                    ctx.progress(f"step {step}/{total}: train loss "
                                 f"{history['train_loss'][-1]:.3f}, error "
                                 f"{history['train_error'][-1]:.3f}{held_out} "
                                 f"({history['seconds'][-1]:.0f} s)")
                reached = stop_below is not None and history["train_error"][-1] < stop_below
                loss_sum = wrong = seen = 0.0
                if reached:
                    break
    if not evaluate_test:
        del history["test_loss"], history["test_error"]
    return history
