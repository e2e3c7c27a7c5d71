"""Chapter 13: one accuracy axis for every family (Canziani, Paszke and Culurciello 2016,
with an accuracy measured here instead of a published one).

Chapter 13 sets the latency it measures on this CPU against published ImageNet top-1, which
comes from eleven different training recipes and papers. Here one scaled-down member of
each family (``cnncourse.lab.family_members``: LeNet, AlexNet, VGG, NiN, GoogLeNet, ResNet,
DenseNet, MobileNetV2, ShuffleNet, EfficientNet, ConvNeXt; 20,000 to 700,000 parameters)
is trained by ONE recipe on ONE data set, so that the accuracy axis differs only by the
architecture; the chapter measures each member's CPU latency at build time and plots the
two against each other and against MACs.

The recipe, chosen by pilots (2026-12-07, seed 0, Clutter-10 at 16x16, 400 to 1,000 steps
per family) so that every family leaves chance within the budget of about 15 minutes of
one CPU thread per seed for all eleven:

- Adam (rate 1e-3), batches of 64, the rate raised linearly from 0 over the first
  ``warmup_steps`` steps and divided by 10 after three quarters of the run; two passes
  through the 50,000 training images (1,562 steps), the images shrunk to 16x16;
- no augmentation and no dropout: in two passes no member has time to over-fit, and both
  slowed the start of the networks without normalisation layers. The pilots, with the
  lab's crops and flips: LeNet, AlexNet, VGG and NiN all at chance after 400 steps; without
  them LeNet fell to 76 % held-out error in 800 steps, VGG only once its dropout was gone;
- why Adam and a warm-up: SGD at the rates of the classic experiment (ch05) keeps the
  un-normalised nets on Clutter-10's plateau near chance for 500 to 800 steps, a third to
  a half of this run. Adam without a warm-up at 2e-3 killed NiN and VGG (every prediction
  one class) and at 1e-3 left NiN at chance for 1,000 steps; at 5e-4 NiN began to learn
  after 600. A warm-up gives the first steps the small rate and the rest the larger one:
  with 150 steps of it, NiN at 1e-3 left chance after about 300 steps and ended the 1,562
  at 60 % held-out error (the only pilot of the whole recipe; 1,000 held-out images).

Stored per seed and family: the history (every ``period_steps``: training loss and error,
held-out loss and error on ``n_test`` held-out images), the final held-out error, the
parameters and the MACs of one 16x16 image. The claims were written before the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from cnncourse.analysis import count_macs, count_parameters
from cnncourse.lab.datasets import load_data
from cnncourse.lab.family_members import MEMBERS
from cnncourse.lab.loop import RunContext, Schedule, train
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict

CHANCE = 0.9                    # ten balanced classes
EFFICIENT = ("MobileNetV2", "ShuffleNet", "EfficientNet")


@dataclass(frozen=True)
class FamiliesConfig:
    data: str = "clutter10"
    seeds: tuple[int, ...] = (0, 1, 2)
    families: tuple[str, ...] = tuple(MEMBERS)
    downsample: int = 2            # 16x16 images
    n_train: int | None = None     # all 50,000
    n_test: int | None = 3_000
    period_steps: int = 142        # 11 held-out evaluations: 1,562 = 11 x 142
    warmup_steps: int = 150
    schedule: Schedule = field(default_factory=lambda: Schedule(
        epochs=2, lr=1e-3, batch_size=64, optimizer="adam", weight_decay=0.0,
        milestones=(0.75,), augment=False))


CONFIG = FamiliesConfig()


class WarmupAdam(torch.optim.Adam):
    """Adam whose rate is multiplied by ``min(1, t / warmup)`` at its t-th step (t from 1).
    The lab's loop sets each group's rate from the schedule before every step; this scales
    it for the step only, so the milestones still apply on top."""

    def __init__(self, params, lr: float, warmup: int, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr=lr, weight_decay=weight_decay)
        self.warmup, self.steps_done = warmup, 0

    @torch.no_grad()
    def step(self, closure=None):
        self.steps_done += 1
        factor = min(1.0, self.steps_done / self.warmup) if self.warmup > 0 else 1.0
        rates = [group["lr"] for group in self.param_groups]
        for group in self.param_groups:
            group["lr"] = group["lr"] * factor
        try:
            return super().step(closure)
        finally:
            for group, rate in zip(self.param_groups, rates, strict=True):
                group["lr"] = rate


def arms(config: FamiliesConfig) -> list[str]:
    return list(config.families)


def family_data(config: FamiliesConfig):
    """The data every member trains and is tested on (16x16 Clutter-10)."""
    return load_data(config.data).downsampled(config.downsample).head(config.n_train,
                                                                      config.n_test)


def build_member(family: str, data) -> torch.nn.Module:
    """The scaled-down member of ``family`` for ``data``'s classes, channels and size."""
    return MEMBERS[family].build(len(data.classes), data.channels, data.size)


def run_arm(config: FamiliesConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    data = family_data(config)
    model = build_member(arm, data)
    schedule = config.schedule
    optimizer = WarmupAdam([p for p in model.parameters() if p.requires_grad], schedule.lr,
                           config.warmup_steps, schedule.weight_decay)
    history = train(model, data, schedule, ctx, seed, period_steps=config.period_steps,
                    optimizer=optimizer)
    final = {"test_error": history["test_error"][-1], "test_loss": history["test_loss"][-1],
             "train_error": history["train_error"][-1],
             "train_loss": history["train_loss"][-1],
             "params": count_parameters(model),
             "macs": count_macs(model, data.size, data.channels)}
    return ArmResult(history=history, final=final)


# --------------------------------------------------------------------------- claims
def mean_error(results, family: str) -> float:
    return float(results.final(family, "test_error").mean())


def macs_of(results, family: str) -> float:
    return float(results.final(family, "macs")[0])


def _pct(values) -> str:
    return "/".join(f"{100 * v:.1f}" for v in values) + " %"


def _every_family_learns(results) -> Verdict:
    """Every family's held-out error is under 80 % (chance: 90 %) in every seed."""
    worst = max(results.arms, key=lambda f: results.final(f, "test_error").max())
    value = float(results.final(worst, "test_error").max())
    return Verdict(value < 0.8, f"highest held-out error of any seed: {100 * value:.1f} % "
                                f"({worst}); chance {100 * CHANCE:.0f} %")


def beats_costlier(results) -> list[tuple[str, str]]:
    """(cheaper, costlier) pairs of families: the cheaper needs at most half the MACs of
    the costlier and has a lower held-out error in every seed."""
    pairs = []
    for a in results.arms:
        for b in results.arms:
            if macs_of(results, a) <= macs_of(results, b) / 2 and bool(
                    (results.final(a, "test_error") < results.final(b, "test_error")).all()):
                pairs.append((a, b))
    return pairs


def _not_monotone_in_macs(results) -> Verdict:
    pairs = beats_costlier(results)
    shown = ", ".join(f"{a} over {b}" for a, b in pairs[:4])
    count = f"{len(pairs)} such pair{'s' if len(pairs) != 1 else ''}"
    return Verdict(bool(pairs), count + (f": {shown}" if pairs else ""))


def _efficient_near_vgg(results) -> Verdict:
    """The best efficient family (by mean) needs at most 60 % of VGG's MACs and its mean
    held-out error is at most 3 points above VGG's."""
    best = min(EFFICIENT, key=lambda f: mean_error(results, f))
    ratio = macs_of(results, best) / macs_of(results, "VGG")
    gap = mean_error(results, best) - mean_error(results, "VGG")
    return Verdict(ratio <= 0.6 and gap <= 0.03,
                   f"{best}: {100 * ratio:.0f} % of VGG's MACs, mean held-out error "
                   f"{100 * mean_error(results, best):.1f} % against VGG's "
                   f"{100 * mean_error(results, 'VGG'):.1f} %")


def _resnet_beats_vgg_at_equal_macs(results) -> Verdict:
    ratio = macs_of(results, "ResNet") / macs_of(results, "VGG")
    res, vgg = results.final("ResNet", "test_error"), results.final("VGG", "test_error")
    return Verdict(abs(ratio - 1) <= 0.05 and bool((res < vgg).all()),
                   f"MACs ResNet/VGG {ratio:.3f}; held-out error ResNet {_pct(res)}, VGG "
                   f"{_pct(vgg)}")


def _no_overfitting(results) -> Verdict:
    """Held-out error at most 5 points above the last period's training error, everywhere."""
    gaps = {f: float((results.final(f, "test_error") - results.final(f, "train_error")).max())
            for f in results.arms}
    worst = max(gaps, key=gaps.get)
    return Verdict(gaps[worst] <= 0.05, f"largest held-out minus training error: "
                                        f"{100 * gaps[worst]:.1f} points ({worst})")


EXPERIMENT = Experiment(
    name="families", chapter="ch13",
    summary="one member of each of eleven families, one recipe, one data set: accuracy "
            "measured here",
    config=CONFIG, arms=arms, run_arm=run_arm,
    claims=(
        Claim("every family learns: held-out error under 80 % (chance 90 %) in every seed",
              _every_family_learns),
        Claim("accuracy is not ordered by operations: some family beats another that needs "
              "at least twice its MACs, in every seed", _not_monotone_in_macs),
        Claim("the best of the efficient families (MobileNetV2, ShuffleNet, EfficientNet) "
              "needs at most 60 % of VGG's MACs and ends within 3 points of VGG's mean "
              "held-out error, or below it", _efficient_near_vgg),
        Claim("ResNet and VGG need the same MACs (within 5 %); ResNet ends with the lower "
              "held-out error in every seed", _resnet_beats_vgg_at_equal_macs),
        Claim("no member over-fits in two passes: the held-out error is at most 5 points above "
              "the training error of the last period, for every family and seed",
              _no_overfitting),
    ))


def table(results) -> list[dict]:
    """Per family, in the config's order: its chapter, year, parameters, MACs, and the
    held-out error of every seed (plain data, for the chapter and the problem set)."""
    return [{"family": f, "chapter": MEMBERS[f].chapter, "year": MEMBERS[f].year,
             "params": int(results.final(f, "params")[0]), "macs": int(macs_of(results, f)),
             "test_error": [float(v) for v in results.final(f, "test_error")]}
            for f in results.arms]


__all__ = ["CONFIG", "EXPERIMENT", "FamiliesConfig", "WarmupAdam", "beats_costlier",
           "build_member", "family_data", "mean_error", "table"]
