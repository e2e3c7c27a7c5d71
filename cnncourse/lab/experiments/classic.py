"""Chapter 5: AlexNet, VGG and NiN compared fairly (Krizhevsky et al. 2012; Simonyan and
Zisserman 2014; Lin, Chen and Yan 2013).

Each design at CPU scale (``cnncourse.lab.models``): AlexNet with large early filters,
LRN and two wide FC layers; VGG-11 of 3x3 convolutions at a quarter width; NiN's CIFAR
network of mlpconv layers and global average pooling, at a quarter width. None has batch
normalisation (none of the papers had it); all start from He initialisation.

A comparison is fair only if no model is under-trained, so each gets its own learning rate,
picked by ``classic_sweep`` (runs of a fifth of the full length at each rate of ``lrs``,
the lowest held-out error wins), then trains with the papers' recipe (SGD, momentum 0.9,
weight decay 5e-4, the rate divided by 10 at half and three quarters of the run, random
crops and flips) until its training error levels off. The table beside the accuracy:
parameters and multiply-accumulates per image.

Redesigned after the first sweep (2026-12-07): 3 epochs of 8,000 32x32 images (186 steps)
left every model at chance at every rate. Pilots showed
why: on Clutter-10 all three sit on a plateau near chance for the first 500 to 800 steps,
with or without batch norm, with SGD or Adam, and then fall slowly (VGG at rate 0.01: 76 %
training error after 3,000 steps). So the images are shrunk to 16x16 (a quarter of the
cost; VGG drops its fifth pool), all 50,000 are used, and the run is 30 epochs (11,700
steps), the sweep's 6 (2,340 steps: past the plateau).

Seed 0 of that design left the VGG under-trained (55 % held-out error, training error still
falling when the rate was cut at half the run): it leaves the plateau last, at its swept rate
of 0.01 (at 0.03 it never does). The VGG paper trained its net A for 74 epochs at that same
rate. So each model now has its own length, the issue's "trained until its training error
plateaus": AlexNet and NiN 30 epochs, VGG 60 (same schedule shape: the rate cut at half and
three quarters). A pilot of that VGG run (seed 0) is in the commit that made the change.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from cnncourse.analysis import count_macs, count_parameters
from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext, Schedule, train
from cnncourse.lab.models import he_init, small_alexnet, small_nin, small_vgg
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict
from cnncourse.lab.sweep import best_lr, load_dependency, lr_arm

MODELS: dict[str, Callable[..., nn.Module]] = {
    "alexnet": lambda classes, channels, size: small_alexnet(classes=classes,
                                                             in_channels=channels, size=size),
    "vgg": lambda classes, channels, size: small_vgg(classes=classes, in_channels=channels,
                                                     size=size),
    "nin": lambda classes, channels, size: small_nin(classes=classes, in_channels=channels),
}


# chapter 14 looks at the AlexNet's 5x5 colour filters and its saliency maps
WEIGHTS_KEPT = ("alexnet",)


@dataclass(frozen=True)
class ClassicConfig:
    data: str = "clutter10"
    seeds: tuple[int, ...] = (0, 1, 2)
    lrs: tuple[float, ...] = (0.003, 0.01, 0.03)
    downsample: int = 2            # 16x16 images: a quarter of the cost
    n_train: int | None = None     # all 50,000
    n_test: int | None = 5_000
    schedule: Schedule = field(default_factory=lambda: Schedule(
        epochs=30, lr=0.01, batch_size=128, momentum=0.9, weight_decay=5e-4,
        milestones=(0.5, 0.75), augment=True))


@dataclass(frozen=True)
class ComparisonConfig(ClassicConfig):
    # a model's own length where it needs more than ``schedule.epochs`` to level off (a
    # field of the comparison only: the sweep's stored config stays as it was run)
    epochs_of: tuple[tuple[str, int], ...] = (("vgg", 60),)


def _build(model: str, data) -> nn.Module:
    return he_init(MODELS[model](len(data.classes), data.channels, data.size))


def _train(config: ClassicConfig, model_name: str, lr: float, seed: int,
           ctx: RunContext, keep_weights: bool = False) -> ArmResult:
    data = load_data(config.data).downsampled(config.downsample).head(config.n_train,
                                                                      config.n_test)
    model = _build(model_name, data)
    epochs = dict(getattr(config, "epochs_of", ())).get(model_name, config.schedule.epochs)
    schedule = Schedule(**{**config.schedule.__dict__, "lr": lr, "epochs": epochs})
    history = train(model, data, schedule, ctx, seed)
    final = {"lr": lr, "params": count_parameters(model),
             "macs": count_macs(model, data.size, data.channels),
             **{k: history[k][-1] for k in ("train_loss", "train_error", "test_loss",
                                            "test_error")}}
    return ArmResult(history=history, final=final,
                     weights=model.state_dict() if keep_weights else None)


# ------------------------------------------------------------------ the sweep
SWEEP_CONFIG = ClassicConfig(seeds=(0,), n_test=2_000, schedule=Schedule(
    epochs=6, lr=0.01, batch_size=128, momentum=0.9, weight_decay=5e-4, augment=True))


def sweep_arms(config: ClassicConfig) -> list[str]:
    return [lr_arm(m, lr) for m in MODELS for lr in config.lrs]


def run_sweep_arm(config: ClassicConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    model, lr = arm.split("_lr")
    return _train(config, model, float(lr), seed, ctx)


def _held_out(results, arm: str) -> np.ndarray:
    return results.final(arm, "test_error")


def _sweep_interior(results) -> Verdict:
    """A best rate at the edge of the grid would mean the grid is too narrow."""
    lrs = results.config.lrs
    best = {m: best_lr(results, m, lrs, _held_out) for m in MODELS}
    learns = {m: float(_held_out(results, lr_arm(m, best[m])).min()) for m in MODELS}
    ok = all(v < 0.8 for v in learns.values())
    return Verdict(ok, "; ".join(f"{m}: lr {best[m]:g}, held-out error {learns[m]:.3f}"
                                 for m in MODELS))


SWEEP = Experiment(
    name="classic_sweep", chapter="ch05",
    summary="learning-rate sweep for the small AlexNet, VGG and NiN",
    config=SWEEP_CONFIG, arms=sweep_arms, run_arm=run_sweep_arm,
    claims=(Claim("every model learns (held-out error under 80 %) at its best rate",
                  _sweep_interior),))


# ------------------------------------------------------------------ the comparison
CONFIG = ComparisonConfig()


def arms(config: ClassicConfig) -> list[str]:
    return list(MODELS)


def run_arm(config: ClassicConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    sweep = load_dependency(SWEEP.name, ctx)
    lr = best_lr(sweep, arm, config.lrs, _held_out)
    return _train(config, arm, lr, seed, ctx, keep_weights=arm in WEIGHTS_KEPT)


def _plateaued(results) -> Verdict:
    """No model under-trained: over the last fifth of the run the training error moved by
    less than 1.5 points (the rate is a hundredth of its start there)."""
    moves = {}
    for m in MODELS:
        errors = results.history(m, "train_error")
        k = max(1, errors.shape[1] // 5)
        moves[m] = float((errors[:, -k - 1] - errors[:, -1]).max())
    worst = max(moves, key=moves.get)
    return Verdict(moves[worst] < 0.015, "largest fall of the training error over the last "
                                         f"fifth: {100 * moves[worst]:.1f} points ({worst})")


def _vgg_beats_alexnet(results) -> Verdict:
    vgg, alex = results.final("vgg", "test_error"), results.final("alexnet", "test_error")
    return Verdict(bool((vgg < alex).all()), f"held-out error VGG {_pct(vgg)}, AlexNet "
                                             f"{_pct(alex)}")


def _nin_fewest_parameters(results) -> Verdict:
    params = {m: results.final(m, "params")[0] for m in MODELS}
    nin_error = results.final("nin", "test_error").mean()
    alex_error = results.final("alexnet", "test_error").mean()
    ok = params["nin"] < min(params["vgg"], params["alexnet"]) / 4 and nin_error < alex_error
    return Verdict(bool(ok), f"parameters {', '.join(f'{m} {int(p):,}' for m, p in params.items())}"
                             f"; mean held-out error NiN {100 * nin_error:.1f} %, AlexNet "
                             f"{100 * alex_error:.1f} %")


def _pct(values: np.ndarray) -> str:
    return "/".join(f"{100 * v:.1f}" for v in values) + " %"


EXPERIMENT = Experiment(
    name="classic", chapter="ch05",
    summary="small AlexNet, VGG and NiN, each at its swept rate, trained to a plateau",
    config=CONFIG, arms=arms, run_arm=run_arm, depends_on=(SWEEP.name,),
    claims=(
        Claim("no model is under-trained: each one's training error has levelled off",
              _plateaued),
        Claim("VGG's stack of 3x3 convolutions ends with a lower held-out error than "
              "AlexNet's large filters, in every seed", _vgg_beats_alexnet,
              known_failure=(  # written after the run of 2026-12-07; claim as stated
                  "the VGG wins only in seed 1 (19.6 against 21.6 %) and loses in seeds 0 "
                  "and 2 (24.3 against 17.6 %, 19.8 against 18.5 %). It is not "
                  "under-trained: its training error is level over the last fifth of its "
                  "60 epochs, and its gap between training and held-out error is about AlexNet's. "
                  "At this scale (16x16 images, a quarter of the width, 50,000 images) its "
                  "extra depth does not pay; the paper found depth to win on ImageNet's "
                  "224-pixel images and 1.2 million examples, and this run cannot say "
                  "which of those differences matters")),
        Claim("NiN, with under a quarter of the parameters of either, still beats AlexNet's "
              "held-out error on average", _nin_fewest_parameters,
              known_failure=(  # written after the run of 2026-12-07; claim as stated
                  "NiN beats AlexNet in seeds 0 and 1 (14.3 and 15.1 % against 17.6 and "
                  "21.6 %) with under a third of its parameters. In seed 2 it left the "
                  "plateau as early as the others, but its training error then fell more "
                  "slowly, and it was still at 57 % when the rate was cut after epoch 15; at a "
                  "tenth of the rate it levelled off at 49 % (held-out 39.7 %). That one "
                  "run, at the same rate and schedule, lifts the mean to 23.0 % against "
                  "AlexNet's 19.2 %")),
    ))
