"""Chapter 4: dropout against over-fitting (Krizhevsky et al. 2012, Section 4.2;
Srivastava et al. 2014).

AlexNet over-fits without dropout: 60 million parameters against 1.2 million images, and
54 million of them in the three fully connected layers, where the paper puts dropout. We
make that regime small: AlexNet's classifier alone (``cnncourse.lab.models.fc_head``: FC6
and FC7 of 1,024 ReLUs, FC8), 1.9 million parameters, trained with the paper's SGD on only
1,000 of the bundled MNIST digits for 100 epochs, long after it has memorised them, with and
without dropout 0.5 on the outputs of FC6 and FC7. Everything else is the same, seed for seed.

Piloted, and why this regime: on 1,000 Clutter-10 images the lab's small AlexNet memorised
and stayed at 84 % held-out error with or without dropout (nothing to generalise); on 1,000
digits its conv layers generalised so well (6.5 % error) that dropout in its small head did
not help. The FC layers alone are the over-fitting part the paper fought.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext, Schedule, train
from cnncourse.lab.models import fc_head
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict

ARMS = {"no_dropout": 0.0, "dropout": 0.5}


@dataclass(frozen=True)
class DropoutConfig:
    data: str = "mnist"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    hidden: int = 1024
    n_train: int = 1_000
    n_test: int = 2_000
    period_epochs: int = 5      # held-out loss and error every 5 epochs (100 steps)
    schedule: Schedule = field(default_factory=lambda: Schedule(
        epochs=100, lr=0.01, batch_size=50, momentum=0.9, augment=False))


CONFIG = DropoutConfig()


def arms(config: DropoutConfig) -> list[str]:
    return list(ARMS)


def run_arm(config: DropoutConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    data = load_data(config.data).head(config.n_train, config.n_test)
    model = fc_head(data.channels * data.size ** 2, config.hidden, ARMS[arm],
                    len(data.classes))
    steps = config.period_epochs * (config.n_train // config.schedule.batch_size)
    history = train(model, data, config.schedule, ctx, seed, period_steps=steps)
    return ArmResult(history=history, final={
        k: history[k][-1] for k in ("train_loss", "train_error", "test_loss", "test_error")})


def _lower_by_more_than_spread(metric: str):
    def test(results) -> Verdict:
        plain, dropped = results.final("no_dropout", metric), results.final("dropout", metric)
        gap = plain.mean() - dropped.mean()
        spread = max(np.ptp(plain), np.ptp(dropped))
        return Verdict(bool(gap > spread), (
            f"without dropout {_fmt(plain)}, with {_fmt(dropped)}: means differ by {gap:.3f}, "
            f"the larger seed range is {spread:.3f}"))
    return test


def _memorised(results) -> Verdict:
    errors = results.final("no_dropout", "train_error")
    return Verdict(bool(errors.max() < 0.01), f"final training error without dropout "
                                              f"{_fmt(errors)}")


def _fmt(values: np.ndarray) -> str:
    return "/".join(f"{v:.3f}" for v in values)


CLAIMS = (
    Claim("the regime over-fits: without dropout the net fits its training images (under "
          "1 % training error) in every seed", _memorised),
    Claim("dropout ends with a lower held-out loss, by more than the seed spread (the larger "
          "range over seeds)", _lower_by_more_than_spread("test_loss"),
          known_failure=(  # written after the run of 2026-12-07; the claim is as stated
              "with dropout the held-out loss ends lower in each of the five seeds, seed "
              "for seed, but the gap of the means is smaller than the range of the dropout "
              "seeds: on the loss, which keeps rising in both arms as they grow "
              "over-confident, the effect is real but not larger than the seed-to-seed "
              "spread this claim asked for; on the error, the same test holds")),
    Claim("dropout ends with a lower held-out error, by more than the seed spread",
          _lower_by_more_than_spread("test_error")),
)

EXPERIMENT = Experiment(
    name="dropout", chapter="ch04",
    summary="AlexNet's FC layers on 1,000 digits, with and without dropout in FC6 and FC7",
    config=CONFIG, arms=arms, run_arm=run_arm, claims=CLAIMS)
