"""Chapter 6: batch normalisation lets a network train at a rate that stalls it without
(Ioffe and Szegedy 2015, Section 4.2: "higher learning rates").

Chapter 6's design, now with seeds: a three-conv network (``three_conv_net``) with and
without BN after each convolution, He initialisation and standardised inputs for both, SGD
with momentum at a low and a four times higher rate, 1,200 steps on 16x16 images; the
quantity compared is the training loss of the last epoch, the thing SGD minimises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext, Schedule, train
from cnncourse.lab.models import three_conv_net
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict
from cnncourse.lab.sweep import lr_arm


@dataclass(frozen=True)
class BatchNormConfig:
    data: str = "clutter10"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    widths: tuple[int, ...] = (16, 32, 64)
    lrs: tuple[float, float] = (0.05, 0.2)
    downsample: int = 2         # 16x16 images, as the chapter's first version had
    n_train: int = 10_000
    n_test: int = 2_000
    schedule: Schedule = field(default_factory=lambda: Schedule(
        epochs=6, lr=0.05, batch_size=50, momentum=0.9, augment=False))


CONFIG = BatchNormConfig()


def arms(config: BatchNormConfig) -> list[str]:
    return [lr_arm(kind, lr) for kind in ("plain", "bn") for lr in config.lrs]


def run_arm(config: BatchNormConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    kind, lr = arm.split("_lr")
    data = load_data(config.data).downsampled(config.downsample).head(config.n_train,
                                                                      config.n_test)
    model = three_conv_net(kind == "bn", config.widths, len(data.classes), data.channels)
    schedule = Schedule(**{**config.schedule.__dict__, "lr": float(lr)})
    history = train(model, data, schedule, ctx, seed)
    return ArmResult(history=history, final={
        k: history[k][-1] for k in ("train_loss", "train_error", "test_loss", "test_error")})


def _loss(results, kind: str, lr: float) -> np.ndarray:
    return results.final(lr_arm(kind, lr), "train_loss")


def _bn_far_below_at_high_rate(results) -> Verdict:
    high = results.config.lrs[1]
    plain, bn = _loss(results, "plain", high), _loss(results, "bn", high)
    gap = plain - bn
    return Verdict(bool(gap.min() > 0.3), f"at rate {high:g}: training loss without BN "
                                          f"{_fmt(plain)}, with BN {_fmt(bn)}")


def _high_rate_hurts_plain_more(results) -> Verdict:
    low, high = results.config.lrs
    plain_rise = _loss(results, "plain", high) - _loss(results, "plain", low)
    bn_rise = _loss(results, "bn", high) - _loss(results, "bn", low)
    ok = bool((plain_rise > bn_rise + 0.1).all())
    return Verdict(ok, f"loss rise from {low:g} to {high:g}: without BN {_fmt(plain_rise)}, "
                       f"with BN {_fmt(bn_rise)}")


def _fmt(values: np.ndarray) -> str:
    return "/".join(f"{v:.2f}" for v in values)


CLAIMS = (
    Claim("at the high rate the BN network's final training loss is below the plain "
          "network's by more than 0.3, in every seed", _bn_far_below_at_high_rate),
    Claim("raising the rate fourfold raises the plain network's loss by at least 0.1 more "
          "than the BN network's, in every seed", _high_rate_hurts_plain_more),
)

EXPERIMENT = Experiment(
    name="batchnorm", chapter="ch06",
    summary="a three-conv net with and without BN at two learning rates",
    config=CONFIG, arms=arms, run_arm=run_arm, claims=CLAIMS)
