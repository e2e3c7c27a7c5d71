"""Chapter 14: transfer learning with a network the lab trained (Yosinski et al. 2014).

``transfer_source`` trains the CPU-sized AlexNet on the first five classes of the data set
(disk, ring, square, square frame, triangle on Clutter-10) and stores it. ``transfer`` then
learns the other five classes from only a few labelled images each, three ways, every way on
the same draws of the few labels:

- from scratch: a fresh network;
- frozen features: the source's five conv layers copied and frozen, a new classifier trained;
- fine-tuning: the conv layers copied, everything trained, earlier stages more slowly
  (each stage's rate 0.3 times the next one's; Howard and Ruder 2018).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext, Schedule, evaluate, train
from cnncourse.lab.models import he_init, small_alexnet
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict
from cnncourse.lab.sweep import load_dependency
from cnncourse.transfer import few_per_class, freeze, layerwise_param_groups

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)
RECIPES = ("scratch", "frozen", "finetune")


@dataclass(frozen=True)
class SourceConfig:
    data: str = "clutter10"
    seeds: tuple[int, ...] = (0,)
    n_train: int = 30_000   # of which the source classes are half
    schedule: Schedule = field(default_factory=lambda: Schedule(
        epochs=12, lr=0.01, batch_size=128, momentum=0.9, weight_decay=5e-4,
        milestones=(0.5, 0.75), augment=True))


def run_source(config: SourceConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    data = load_data(config.data).head(config.n_train).classes_subset(SOURCE_CLASSES)
    model = he_init(small_alexnet(classes=len(SOURCE_CLASSES), in_channels=data.channels))
    history = train(model, data, config.schedule, ctx, seed)
    return ArmResult(history=history, weights=model.state_dict(), final={
        k: history[k][-1] for k in ("train_loss", "train_error", "test_loss", "test_error")})


def _source_learned(results) -> Verdict:
    error = results.final("alexnet", "test_error")
    return Verdict(bool(error.max() < 0.3), f"held-out error on the source classes "
                                            f"{'/'.join(f'{100 * e:.1f}' for e in error)} %")


SOURCE = Experiment(
    name="transfer_source", chapter="ch14",
    summary="the small AlexNet trained on five classes, stored for transfer",
    config=SourceConfig(), arms=lambda config: ["alexnet"], run_arm=run_source,
    claims=(Claim("the source network learned its five classes (held-out error under 30 %)",
                  _source_learned,
                  known_failure=(  # written after the run of 2026-12-07; claim as stated
                      "the network under-fits rather than over-fits: it ends at 53 % error "
                      "on its training batches (dropout and augmentation on), no better "
                      "than on held-out images (50 %; "
                      "chance 80 %), and its loss had stopped falling (1.06 at two thirds "
                      "of the run, 1.02 at the end). Without batch norm, at rate 0.01 "
                      "with dropout and weight decay, 12 epochs of 15,000 cluttered shapes "
                      "are too few for this AlexNet; the features it did learn still carry "
                      "over (the transfer experiment's claims hold), but a better-trained "
                      "source is the next run to make")),))


@dataclass(frozen=True)
class TransferConfig:
    data: str = "clutter10"
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    shots: tuple[int, ...] = (10, 50)   # labelled images per class
    n_test: int = 2_000                 # held-out images of the target classes
    steps: int = 240
    decay: float = 0.3                  # fine-tuning: rate ratio between adjacent stages
    schedule: Schedule = field(default_factory=lambda: Schedule(
        epochs=1, lr=1e-3, batch_size=25, optimizer="adam", augment=True))


def transfer_arms(config: TransferConfig) -> list[str]:
    return [f"{recipe}_{shots}" for shots in config.shots for recipe in RECIPES]


def run_transfer(config: TransferConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    recipe, shots = arm.rsplit("_", 1)
    data = load_data(config.data).classes_subset(TARGET_CLASSES)
    x, y = few_per_class(data.train_x, data.train_y, int(shots), seed=seed)
    data = data.head(None, config.n_test)
    few = replace(data, train_x=x, train_y=y)
    model = small_alexnet(classes=len(TARGET_CLASSES), in_channels=data.channels)
    he_init(model)
    stages = [model.features[0], model.features[1], model.features[2:], model.classifier]
    if recipe != "scratch":
        source = load_dependency(SOURCE.name, ctx).weights(SOURCE.config.seeds[0], "alexnet")
        model.features.load_state_dict(
            {k.removeprefix("features."): v for k, v in source.items()
             if k.startswith("features.")})
    if recipe == "frozen":
        freeze(model.features)
    decay = config.decay if recipe == "finetune" else 1.0
    optimizer = torch.optim.Adam(layerwise_param_groups(stages, config.schedule.lr, decay))
    per_epoch = len(x) // config.schedule.batch_size
    schedule = Schedule(**{**config.schedule.__dict__,
                           "epochs": -(-config.steps // per_epoch)})  # at least ``steps``
    history = train(model, few, schedule, ctx, seed, period_steps=config.steps // 4,
                    optimizer=optimizer)
    test_loss, test_error = evaluate(model, few, ctx.device)
    return ArmResult(history=history, final={"test_loss": test_loss, "test_error": test_error,
                                             "test_accuracy": 1 - test_error})


def _transfer_beats_scratch(shots: int):
    def test(results) -> Verdict:
        scratch = results.final(f"scratch_{shots}", "test_accuracy")
        frozen = results.final(f"frozen_{shots}", "test_accuracy")
        tuned = results.final(f"finetune_{shots}", "test_accuracy")
        ok = bool((frozen > scratch).all() and (tuned > scratch).all())
        return Verdict(ok, f"held-out accuracy with {shots} labels per class: scratch "
                           f"{_pct(scratch)}, frozen {_pct(frozen)}, fine-tuned {_pct(tuned)}")
    return test


def _pct(values: np.ndarray) -> str:
    return "/".join(f"{100 * v:.1f}" for v in values) + " %"


EXPERIMENT = Experiment(
    name="transfer", chapter="ch14",
    summary="few labels of five new classes: from scratch, frozen features, fine-tuning",
    config=TransferConfig(), arms=transfer_arms, run_arm=run_transfer,
    depends_on=(SOURCE.name,),
    claims=tuple(
        Claim(f"with {shots} labels per class, frozen features and fine-tuning both beat "
              "training from scratch, in every seed", _transfer_beats_scratch(shots))
        for shots in TransferConfig().shots))
