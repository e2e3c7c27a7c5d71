"""Chapter 4: ReLU against tanh (Krizhevsky et al. 2012, Figure 1).

The paper: "A four-layer convolutional neural network with ReLUs reaches a 25 % training
error rate on CIFAR-10 six times faster than an equivalent network with tanh neurons. The
learning rates for each network were chosen independently to make training as fast as
possible. No regularization of any kind was employed."

Ours: the same four layers as cuda-convnet's CIFAR-10 network (three 5x5 convolutions of 32,
32 and 64 filters, each followed by the nonlinearity and a 2x2 max pool, then one fully
connected layer), the same initialisation for both nonlinearities (PyTorch's default), plain
SGD with momentum, no regularisation, no augmentation, on all 50,000 training images shrunk
to 16x16. ``relu_tanh_sweep`` tries each rate of ``lrs`` for each nonlinearity;
``relu_tanh`` trains both at their fastest rate for every seed and counts the steps until
the training error (over a window of 50 steps) first falls below the threshold, then stops.

The threshold is 30 %, not the paper's 25 %: on Clutter-10 at 16x16 a network this small
gets there more slowly than on CIFAR-10, and a run that never gets there gives no step count.
Pilots on 5,000 images (memorising them) showed no gap between the two; on all 50,000 the
ReLU net pulled ahead, and tanh at rate 0.1 stalled, saturated (near 70 % training error in
the pilot, near 60 % in the stored sweep).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from torch import nn

from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext, Schedule, train
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict
from cnncourse.lab.sweep import best_lr, load_dependency, lr_arm

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
PAPER_SPEEDUP = 6  # the paper's Figure 1


def four_layer_net(activation: type[nn.Module], channels: tuple[int, int, int] = (32, 32, 64),
                   in_channels: int = 3, size: int = 32, classes: int = 10) -> nn.Sequential:
    """Three 5x5 conv + nonlinearity + 2x2 max pool blocks, then one linear classifier."""
    layers: list[nn.Module] = []
    for out in channels:
        layers += [nn.Conv2d(in_channels, out, 5, padding=2), activation(), nn.MaxPool2d(2)]
        in_channels = out
    side = size // 2 ** len(channels)
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(in_channels * side * side, classes))


@dataclass(frozen=True)
class ReluTanhConfig:
    data: str = "clutter10"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    channels: tuple[int, int, int] = (32, 32, 64)
    downsample: int = 2         # 16x16 images: a quarter of the cost
    n_train: int | None = None  # all 50,000: the error falls by learning, not by memorising
    n_test: int = 1_000
    threshold: float = 0.30     # the paper's is 25 % on CIFAR-10; see the module docstring
    period_steps: int = 50      # the training error is measured over windows of 50 steps
    lrs: tuple[float, ...] = (0.01, 0.03, 0.1)
    schedule: Schedule = field(default_factory=lambda: Schedule(
        epochs=16, lr=0.01, batch_size=128, momentum=0.9, augment=False))


def steps_to(history: dict[str, list[float]], threshold: float) -> float:
    """The first step whose window's training error is below ``threshold`` (inf: never)."""
    for step, error in zip(history["step"], history["train_error"], strict=True):
        if error < threshold:
            return float(step)
    return float("inf")


def _train(config: ReluTanhConfig, activation: str, lr: float, seed: int,
           ctx: RunContext) -> ArmResult:
    data = load_data(config.data).downsampled(config.downsample).head(config.n_train,
                                                                      config.n_test)
    model = four_layer_net(ACTIVATIONS[activation], config.channels, data.channels, data.size,
                           len(data.classes))
    schedule = Schedule(**{**config.schedule.__dict__, "lr": lr})
    history = train(model, data, schedule, ctx, seed, period_steps=config.period_steps,
                    stop_below=config.threshold)  # the question is only how soon
    return ArmResult(history=history, final={
        "lr": lr, "steps_to_threshold": steps_to(history, config.threshold),
        "train_error": history["train_error"][-1], "test_error": history["test_error"][-1]})


# ------------------------------------------------------------------ the sweep
def sweep_arms(config: ReluTanhConfig) -> list[str]:
    return [lr_arm(a, lr) for a in ACTIVATIONS for lr in config.lrs]


def run_sweep_arm(config: ReluTanhConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    activation, lr = arm.split("_lr")
    return _train(config, activation, float(lr), seed, ctx)


SWEEP_CONFIG = ReluTanhConfig(seeds=(0,))


def _steps(results, arm: str) -> np.ndarray:
    return results.final(arm, "steps_to_threshold")


def _sweep_reaches(results) -> Verdict:
    best = {a: best_lr(results, a, results.config.lrs, _steps) for a in ACTIVATIONS}
    steps = {a: _steps(results, lr_arm(a, lr)) for a, lr in best.items()}
    reached = all(np.isfinite(v).all() for v in steps.values())
    return Verdict(reached, "; ".join(f"{a}: fastest at lr {best[a]:g}, "
                                      f"{_fmt(steps[a])} steps" for a in ACTIVATIONS))


SWEEP = Experiment(
    name="relu_tanh_sweep", chapter="ch04",
    summary="learning rates for ReLU and tanh: each gets its fastest",
    config=SWEEP_CONFIG, arms=sweep_arms, run_arm=run_sweep_arm,
    claims=(Claim("at its fastest rate, each nonlinearity reaches the threshold within the "
                  "run", _sweep_reaches),))


# ------------------------------------------------------------------ the comparison
def arms(config: ReluTanhConfig) -> list[str]:
    return list(ACTIVATIONS)


def run_arm(config: ReluTanhConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    sweep = load_dependency(SWEEP.name, ctx)
    return _train(config, arm, best_lr(sweep, arm, config.lrs, _steps), seed, ctx)


def _speedup(results) -> Verdict:
    relu, tanh = _steps(results, "relu"), _steps(results, "tanh")
    with np.errstate(invalid="ignore"):  # never / never is no ratio: nan, and the claim fails
        ratio = tanh / relu
    median = float(np.median(ratio))
    return Verdict(median >= 2.0, f"tanh/ReLU steps to {100 * results.config.threshold:.0f} % "
                                  f"training error per seed {_fmt(ratio, '.1f')}, median "
                                  f"{median:.1f} (the paper: {PAPER_SPEEDUP})")


def _both_reach(results) -> Verdict:
    relu, tanh = _steps(results, "relu"), _steps(results, "tanh")
    ok = bool(np.isfinite(relu).all() and np.isfinite(tanh).all())
    return Verdict(ok, f"steps: ReLU {_fmt(relu)}, tanh {_fmt(tanh)}")


def _fmt(values: np.ndarray, spec: str = ".0f") -> str:
    return "/".join(format(v, spec) if np.isfinite(v) else "never" for v in values)


CONFIG = ReluTanhConfig()

EXPERIMENT = Experiment(
    name="relu_tanh", chapter="ch04",
    summary="steps to 30 % training error, ReLU vs tanh, each at its fastest rate",
    config=CONFIG, arms=arms, run_arm=run_arm, depends_on=(SWEEP.name,),
    claims=(
        Claim("both nonlinearities reach the threshold in every seed", _both_reach),
        Claim("ReLU reaches it at least twice as fast as tanh (median ratio over seeds)",
              _speedup),
    ))
