"""Chapter 7: the degradation problem (He et al. 2016, Figures 1 and 6).

Plain and residual CIFAR-style networks (6n+2 layers: a 3x3 conv, three stages of n
blocks of two 3x3 convs, global pooling, one FC layer) of three depths, trained with the
paper's recipe scaled down: SGD with momentum 0.9, weight decay 1e-4, batches of 128,
rate 0.1 divided by 10 at 50 % and 75 % of the run, random crops and flips. Deviations, to
fit a CPU: half the paper's width (8, 16, 32 channels); the images shrunk to 16x16 (a
quarter of the cost; the stages then work on 16x16, 8x8 and 4x4 maps); and 3,900 steps
instead of the paper's 64,000, enough for the training loss to level off at the low rates.

Depths 14, 20 and 32, not the paper's 20 to 56: the first run (2026-12-07, seed 0) trained
plain nets of 20, 32 and 56 layers; plain-20 ended at 23 % training error and plain-32 at
38 %, but plain-56 at this width (8 channels in its first stage) stayed at 82 % (loss 2.09,
chance 2.30) for all 3,900 steps: at half width and a sixteenth of the paper's steps the
deepest plain net barely starts, which the claim below on chance exists to catch. Fifty-six
layers would need several times the steps (hours more per seed), so the depths stop at 32,
where the plain net trains and still degrades.

The claims are the paper's two findings: deeper plain nets converge to a HIGHER training
error (degradation), deeper residual nets to a lower one; and a check that the plain nets
do train (a net stuck at chance would show an initialisation problem, not degradation).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext, Schedule, evaluate, train
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict
from cnncourse.models.resnet import BasicBlock, PlainBlock, cifar_resnet

KINDS = {"plain": PlainBlock, "residual": BasicBlock}


@dataclass(frozen=True)
class DegradationConfig:
    data: str = "clutter10"
    seeds: tuple[int, ...] = (0, 1, 2)
    depths: tuple[int, ...] = (14, 20, 32)   # 56 stalls at this width: see the docstring
    widths: tuple[int, int, int] = (8, 16, 32)
    downsample: int = 2          # 2: images at 16x16, four times cheaper
    n_train: int | None = None   # None: all 50,000
    n_test: int | None = None
    schedule: Schedule = field(default_factory=lambda: Schedule(
        epochs=10, lr=0.1, batch_size=128, momentum=0.9, weight_decay=1e-4,
        milestones=(0.5, 0.75), augment=True))


CONFIG = DegradationConfig()


def arms(config: DegradationConfig) -> list[str]:
    return [f"{kind}{depth}" for kind in KINDS for depth in config.depths]


def run_arm(config: DegradationConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    kind, depth = arm.rstrip("0123456789"), int(arm.lstrip("abcdefghijklmnopqrstuvwxyz"))
    data = load_data(config.data).downsampled(config.downsample).head(config.n_train,
                                                                      config.n_test)
    model = cifar_resnet(depth, block=KINDS[kind], widths=config.widths,
                         in_channels=data.channels, num_classes=len(data.classes))
    history = train(model, data, config.schedule, ctx, seed)
    train_loss, train_error = evaluate(model, data, ctx.device, train=True)
    return ArmResult(history=history, final={
        "train_loss": train_loss, "train_error": train_error,
        "test_loss": history["test_loss"][-1], "test_error": history["test_error"][-1]})


# --------------------------------------------------------------------------- claims
def _end(results, arm: str) -> np.ndarray:
    """Training error at the end of the run: the mean of the last epoch, as plotted."""
    return results.history(arm, "train_error")[:, -1]


def _deepest_plain_higher(results) -> Verdict:
    shallow, deep = (f"plain{d}" for d in (min(results.config.depths), max(results.config.depths)))
    a, b = _end(results, shallow), _end(results, deep)
    wins = int((b > a).sum())
    return Verdict(wins == len(a), f"{deep} {_pct(b)} vs {shallow} {_pct(a)}: higher in "
                                   f"{wins} of {len(a)} seeds")


def _deepest_residual_not_higher(results) -> Verdict:
    shallow, deep = (f"residual{d}" for d in (min(results.config.depths),
                                              max(results.config.depths)))
    a, b = _end(results, shallow), _end(results, deep)
    wins = int((b <= a).sum())
    return Verdict(wins >= len(a) - 1 and b.mean() <= a.mean(),
                   f"{deep} {_pct(b)} vs {shallow} {_pct(a)}: at or below in {wins} of "
                   f"{len(a)} seeds, mean {100 * b.mean():.1f} vs {100 * a.mean():.1f} %")


def _residual_beats_plain_deepest(results) -> Verdict:
    depth = max(results.config.depths)
    a, b = _end(results, f"plain{depth}"), _end(results, f"residual{depth}")
    wins = int((b < a).sum())
    return Verdict(wins == len(a), f"residual{depth} {_pct(b)} vs plain{depth} {_pct(a)}: "
                                   f"lower in {wins} of {len(a)} seeds")


def _no_plain_at_chance(results) -> Verdict:
    chance = math.log(10)
    worst = max(results.history(f"plain{d}", "train_loss")[:, -1].max()
                for d in results.config.depths)
    return Verdict(worst < chance / 2, f"highest final training loss of a plain net "
                                       f"{worst:.2f}; chance {chance:.2f}")


def _plateaued(results) -> Verdict:
    """Over the last tenth of the run every net's training loss fell by under 5 %."""
    worst, where = 0.0, ""
    for arm in arms(results.config):
        losses = results.history(arm, "train_loss")
        k = max(1, losses.shape[1] // 10)
        drop = (losses[:, -k - 1] - losses[:, -1]) / losses[:, -k - 1]
        if drop.max() > worst:
            worst, where = float(drop.max()), arm
    return Verdict(worst < 0.05, f"largest relative drop over the last tenth: "
                                 f"{100 * worst:.1f} % ({where})")


def _pct(values: np.ndarray) -> str:
    return "/".join(f"{100 * v:.1f}" for v in values) + " %"


CLAIMS = (
    Claim("the deepest plain net ends with a higher training error than the shallowest, "
          "in every seed", _deepest_plain_higher),
    Claim("the deepest residual net ends at or below the shallowest residual net's training "
          "error, on average and in all seeds but at most one", _deepest_residual_not_higher),
    Claim("at the greatest depth the residual net ends with a lower training error than the "
          "plain one, in every seed", _residual_beats_plain_deepest),
    Claim("no plain net sits at chance: every final training loss is below half of ln 10",
          _no_plain_at_chance,
          known_failure=(  # written after the run of 2026-12-07; the claim is as stated
              "no plain net is at chance, but one misses the bar: 32-layer plain in seed 2 "
              "left chance (2.25) the most slowly of all the nets, still at 2.01 after four "
              "of the ten epochs, so the rate was cut at half the run before it had got "
              "far, and it levelled off at 1.55 (chance 2.30, bar 1.15). The other two "
              "32-layer plain nets end at 1.07 and 1.15, every shallower plain net below "
              "0.9: a deep plain net that starts slowly is the degradation itself, not a "
              "broken initialisation, and in that seed it is at its most severe")),
    Claim("the training loss has levelled off: over the last tenth of the run it fell by "
          "less than 5 % for every net and seed", _plateaued),
)

EXPERIMENT = Experiment(
    name="degradation", chapter="ch07",
    summary="plain vs residual CIFAR nets at three depths: deeper plain nets train worse",
    config=CONFIG, arms=arms, run_arm=run_arm, claims=CLAIMS)
