"""Chapter 6: label smoothing and calibration (Szegedy et al. 2016, Section 7; Mueller,
Kornblith and Hinton 2019, "When does label smoothing help?", arXiv:1906.02629).

A network trained on one-hot targets is rewarded for ever larger logits, and on images it
has not seen it is more confident than it is right. Smoothing the targets (epsilon = 0.1,
the paper's) caps that reward. We measure it as Guo et al. (2017) do: a reliability diagram
(held-out predictions binned by confidence; each bin's accuracy against its mean confidence)
and the expected calibration error, ECE = sum over bins of (bin share) x |accuracy -
confidence|. The network is a ResNet-20 at half width (chapter 7's, with its batch norm)
trained on 10,000 images for 30 epochs without augmentation or weight decay, so that the
one-hot version fits its training images and over-fits (Guo et al. 2017 find less weight
decay and more capacity make a network less calibrated), with and without smoothing.
Piloted: chapter 6's three-conv net stays at 71 % training error on Clutter-10; the ResNet-20
for 16 epochs ended at 24 % training error and was over-confident by only 4 points (a
network that under-fits is not over-confident); on 4,000 images for 40 epochs it memorised
them, reached only 28 % held-out accuracy and was over-confident by 43 points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext, Schedule, logits_of, train
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict
from cnncourse.models.resnet import cifar_resnet

ARMS = {"one_hot": 0.0, "smoothed": 0.1}


@dataclass(frozen=True)
class LabelSmoothingConfig:
    data: str = "clutter10"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    depth: int = 20
    widths: tuple[int, int, int] = (8, 16, 32)
    downsample: int = 2         # 16x16 images, as in the degradation runs
    n_train: int = 10_000
    n_test: int = 10_000
    bins: int = 10
    period_epochs: int = 3      # held-out curves every 3 epochs (the diagram uses all 10,000)
    schedule: Schedule = field(default_factory=lambda: Schedule(
        epochs=30, lr=0.1, batch_size=128, momentum=0.9, milestones=(0.5, 0.75),
        augment=False))


CONFIG = LabelSmoothingConfig()


def reliability(logits: torch.Tensor, labels: torch.Tensor,
                bins: int) -> dict[str, list]:
    """Per equal-width confidence bin: count, mean confidence, accuracy; and the ECE."""
    probs = logits.softmax(dim=1)
    confidence, predicted = probs.max(dim=1)
    correct = (predicted == labels).double()
    which = torch.clamp((confidence * bins).long(), max=bins - 1)
    count = torch.bincount(which, minlength=bins).double()
    conf_sum = torch.bincount(which, confidence.double(), minlength=bins)
    right_sum = torch.bincount(which, correct, minlength=bins)
    filled = count > 0
    mean_conf = torch.where(filled, conf_sum / count.clamp(min=1), torch.nan)
    accuracy = torch.where(filled, right_sum / count.clamp(min=1), torch.nan)
    gaps = torch.where(filled, (accuracy - mean_conf).abs() * count / len(labels), 0.0)
    return {"count": count.long().tolist(), "confidence": mean_conf.tolist(),
            "accuracy": accuracy.tolist(), "ece": gaps.sum().item(),
            "mean_confidence": confidence.double().mean().item(),
            "mean_accuracy": correct.mean().item()}


def arms(config: LabelSmoothingConfig) -> list[str]:
    return list(ARMS)


def run_arm(config: LabelSmoothingConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    data = load_data(config.data).downsampled(config.downsample).head(config.n_train,
                                                                      config.n_test)
    model = cifar_resnet(config.depth, widths=config.widths, in_channels=data.channels,
                         num_classes=len(data.classes))
    schedule = Schedule(**{**config.schedule.__dict__, "label_smoothing": ARMS[arm]})
    steps = config.period_epochs * (config.n_train // schedule.batch_size)
    history = train(model, data, schedule, ctx, seed, period_steps=steps)
    diagram = reliability(logits_of(model, data, data.test_x, ctx.device), data.test_y,
                          config.bins)
    return ArmResult(history=history, extra={"reliability": diagram}, final={
        "ece": diagram["ece"], "mean_confidence": diagram["mean_confidence"],
        "test_accuracy": diagram["mean_accuracy"], "test_error": history["test_error"][-1],
        "train_error": history["train_error"][-1]})


def _over_confident(results) -> Verdict:
    conf = results.final("one_hot", "mean_confidence")
    acc = results.final("one_hot", "test_accuracy")
    gap = conf - acc
    return Verdict(bool(gap.min() > 0.05), f"one-hot: mean confidence minus accuracy "
                                           f"{_fmt(gap)} on held-out images")


def _smoothing_lowers_ece(results) -> Verdict:
    one_hot, smoothed = results.final("one_hot", "ece"), results.final("smoothed", "ece")
    ok = bool((smoothed < one_hot).all())
    return Verdict(ok, f"ECE one-hot {_fmt(one_hot)}, smoothed {_fmt(smoothed)}")


def _accuracy_not_lost(results) -> Verdict:
    one_hot = results.final("one_hot", "test_accuracy")
    smoothed = results.final("smoothed", "test_accuracy")
    return Verdict(bool(smoothed.mean() >= one_hot.mean() - 0.01),
                   f"held-out accuracy one-hot {_fmt(one_hot)}, smoothed {_fmt(smoothed)}")


def _fmt(values: np.ndarray) -> str:
    return "/".join(f"{v:.3f}" for v in values)


CLAIMS = (
    Claim("trained on one-hot targets, the network is over-confident on held-out images "
          "(mean confidence exceeds accuracy by more than 0.05) in every seed",
          _over_confident),
    Claim("label smoothing lowers the expected calibration error in every seed",
          _smoothing_lowers_ece, known_failure=(  # written after the run of 2026-12-07
              "it does in four seeds, by 0.05 to 0.08; in the fifth it is 0.002 higher, "
              "because there the smoothed network generalised worst of all (44 % held-out "
              "error against 24 % one-hot): its confidence fell, but its "
              "accuracy fell as far, so it is as mis-calibrated as before, only lower down")),
    Claim("and costs no accuracy (mean held-out accuracy within 1 point or better)",
          _accuracy_not_lost, known_failure=(  # written after the run of 2026-12-07
              "in this regime, chosen so that the one-hot network over-fits (10,000 images, "
              "30 epochs, no weight decay, no augmentation), the smoothed networks fit their "
              "training images as closely (3.9 to 6.6 % training error, one-hot 4.9 to 5.5 %) "
              "but generalise worse in "
              "every seed, by 5 to 19 points; smoothing traded accuracy for calibration "
              "instead of giving both, as it does in the paper's ImageNet setting with its "
              "regularisation. This run does not show why it generalises worse here; a "
              "redesign with weight decay and augmentation is the next thing to try")),
)

EXPERIMENT = Experiment(
    name="label_smoothing", chapter="ch06",
    summary="calibration (reliability diagram, ECE) with and without label smoothing",
    config=CONFIG, arms=arms, run_arm=run_arm, claims=CLAIMS)
