"""Chapter 12: ConvNeXt's road map with accuracies (Liu et al. 2022, Figure 2 and Section 2).

Every step of the road from ResNet-50 to ConvNeXt-T (``cnncourse.models.convnext_roadmap``,
fourteen designs, each one change away from the one before) trained on Clutter-10 with one
recipe, the paper's point: the recipe is fixed first, so what changes after it is the
architecture. The held-out accuracy of every step (three seeds) stands beside its MACs and
the ImageNet top-1 the paper reports for it.

The road scaled down (``scaled_road``): 16x16 images; the stem's stride 2 instead of 4
(a 2x2 stride-2 "patchify" stem; ResNet's stem a 3x3 stride-1 convolution and the 3x3
stride-2 max pool, as 7x7 stride 2 + pool is at 224), so the four stages work on 8x8, 4x4,
2x2 and 1x1 maps (ImageNet's 56 ... 7 divided by 7); a quarter of ResNet-50's widths (a
bottleneck width of 16 in the first stage, a 16-channel stem), widened by the paper's 1.5
to 24 ("wider (96 channels)" is 16 -> 24 here); a third of its depth, (1, 1, 2, 1), then
the paper's stage ratio 1:1:3:1 as (1, 1, 3, 1). Every other field of each ``Design`` is the
paper's (7x7 depth-wise kernels included: on an 8x8 map they see almost all of it, as
ImageNet's 7x7 kernels do in the last stage).

The recipe, one for all fourteen (the paper's Section 2.1 shortened): AdamW (weight decay
0.05, none on biases, norms and layer-scale factors), batches of 128, a linear warm-up over
the first 5 % of the steps to the rate 2e-3 then a cosine decay to zero, label smoothing 0.1,
the lab's random crops (4 pixels of padding) and flips. Left out, for a run of minutes:
Mixup, CutMix, RandAugment, random erasing, stochastic depth and the weight average (EMA).

Pilot (2026-12-07, seed 0, one thread, niced, on the shared 2-core machine, load 3 to 10;
CPU seconds): a training step of 128 images costs 70-86 ms (ResNet 70, ConvNeXt 81; the
7x7 depth-wise convolutions on the 2x2 and 1x1 maps of the last stages take a third of it,
channels-last tensors save a quarter on the ResNet steps). So a run is 40,000 images for 3
epochs, 936 steps, about 75 s: 14 steps x 3 seeds, about 53 minutes. After exactly that run
on 2,000 held-out images the ResNet was at 30.2 % accuracy (training error 75 % and falling)
and ConvNeXt (the last step) at 17.9 %: its first epoch stayed at chance, as Clutter-10's
plateau holds small networks for hundreds of steps. Tried and not taken: 32x32 images with
the paper's own 4x4 patchify stem (ConvNeXt 14.6 % after the same 936 steps, 7 % slower),
batches of 64 for 1,404 steps at the same cost (ConvNeXt never left chance, 10.3 %). The
budget is a few epochs, where the paper trains 300: the claims below test the paper's
argument at this budget, and the first of them, which asks every step to reach twice chance,
is at risk for the last steps by the pilot.

Redesigned before the stored run (2026-12-07): 3 epochs leave every step on or barely off
the plateau (seed 0 at 3 epochs: the ResNet 29 %, the stage-ratio, patchify and depth-wise
steps 25, 21 and 20 % held-out accuracy), so the steps' differences were those of nets
that had not started to learn. A pilot at 12 epochs (3,744 steps, seed 0, at load 3) took
the ResNet to 70.4 % and ConvNeXt to 32.7 % (still falling), in 271 and 308 CPU seconds:
about 67 CPU minutes a seed. The runs are 12 epochs; the claims are as written before.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from cnncourse.analysis import count_macs, count_parameters
from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext, Schedule, train
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict
from cnncourse.models.convnext_roadmap import ROADMAP, Design, RoadmapNet

# The arms: a file-safe name for each step of ``ROADMAP``, in its order.
STEPS: tuple[tuple[str, str], ...] = (
    ("resnet", "ResNet-50"),
    ("stage_ratio", "stage ratio 3:3:9:3"),
    ("patchify", '"patchify" stem'),
    ("depthwise", "depth-wise conv"),
    ("wider", "wider (96 channels)"),
    ("inverted", "inverted bottleneck"),
    ("dw_up", "depth-wise conv moved up"),
    ("kernel7", "7x7 kernel"),
    ("gelu", "GELU"),
    ("fewer_act", "fewer activations"),
    ("fewer_norms", "fewer norms"),
    ("layernorm", "LayerNorm"),
    ("separate_ds", "separate down-sampling"),
    ("layer_scale", "layer scale (ConvNeXt-T)"),
)
assert tuple(name for _, name in STEPS) == tuple(ROADMAP)

# ImageNet-1K top-1 (%) of each step, ResNet-50/Swin-T regime, from Liu et al. (2022),
# Figure 2 and the text of Section 2 (2.1-2.6), which gives the same numbers. ResNet-50 is
# the one already trained with the modern recipe (76.1 % with the old one). Layer scale is
# not a step of Figure 2: the paper counts it among the training settings (Appendix A.1),
# so the figure's ConvNeXt-T bar, 82.0 %, is the separate down-sampling step.
PAPER_TOP1: dict[str, float | None] = {
    "resnet": 78.8, "stage_ratio": 79.4, "patchify": 79.5, "depthwise": 78.3,
    "wider": 80.5, "inverted": 80.6, "dw_up": 79.9, "kernel7": 80.6, "gelu": 80.6,
    "fewer_act": 81.3, "fewer_norms": 81.4, "layernorm": 81.5, "separate_ds": 82.0,
    "layer_scale": None,
}


@dataclass(frozen=True)
class CosineSchedule(Schedule):
    """A linear warm-up over the first ``warmup`` of the steps, then a cosine decay of the
    rate to zero (the paper's schedule); the optimiser is built by the experiment."""

    warmup: float = 0.05

    def lr_at(self, step: int, total: int) -> float:
        ramp = max(1, round(self.warmup * total))
        if step < ramp:
            return self.lr * (step + 1) / ramp
        progress = (step - ramp) / max(1, total - ramp)
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * progress))


EPOCHS = 12   # 3,744 steps of 128


@dataclass(frozen=True)
class RoadmapConfig:
    data: str = "clutter10"
    seeds: tuple[int, ...] = (0, 1, 2)
    downsample: int = 2                      # 16x16 images
    patch: int = 2                           # the stem's stride (4 at ImageNet size)
    stem_channels: int = 16                  # ResNet-50's 64, at a quarter
    depths: tuple[int, ...] = (1, 1, 2, 1)   # for ResNet-50's (3, 4, 6, 3)
    ratio_depths: tuple[int, ...] = (1, 1, 3, 1)         # for (3, 3, 9, 3)
    widths: tuple[int, ...] = (16, 32, 64, 128)          # for (64, 128, 256, 512)
    wide_widths: tuple[int, ...] = (24, 48, 96, 192)     # for (96, 192, 384, 768)
    n_train: int | None = 40_000             # of the 50,000
    n_test: int | None = None                # all 10,000
    schedule: Schedule = field(default_factory=lambda: CosineSchedule(
        epochs=EPOCHS, lr=2e-3, batch_size=128, optimizer="adamw", weight_decay=0.05,
        augment=True, label_smoothing=0.1, warmup=0.05))


CONFIG = RoadmapConfig()


def arms(config: RoadmapConfig) -> list[str]:
    return [arm for arm, _ in STEPS]


def scaled_road(config: RoadmapConfig) -> dict[str, Design]:
    """Each arm's ``Design`` at the config's scale: the paper's depths and widths swapped
    for the config's, every other field as on the paper's road."""
    full = ROADMAP["ResNet-50"]
    depths = {full.depths: config.depths,
              ROADMAP["stage ratio 3:3:9:3"].depths: config.ratio_depths}
    widths = {full.widths: config.widths,
              ROADMAP["wider (96 channels)"].widths: config.wide_widths}
    return {arm: replace(ROADMAP[name], depths=depths[ROADMAP[name].depths],
                         widths=widths[ROADMAP[name].widths])
            for arm, name in STEPS}


def build(config: RoadmapConfig, arm: str, num_classes: int = 10) -> RoadmapNet:
    return RoadmapNet(scaled_road(config)[arm], num_classes=num_classes,
                      stem_channels=config.stem_channels, patch=config.patch)


def adamw(model: nn.Module, schedule: Schedule) -> torch.optim.Optimizer:
    """AdamW with weight decay on the convolution and linear weights only."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith("gamma") else decay).append(p)
    return torch.optim.AdamW([{"params": decay, "weight_decay": schedule.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=schedule.lr)


def run_arm(config: RoadmapConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    data = load_data(config.data).downsampled(config.downsample).head(config.n_train,
                                                                      config.n_test)
    # channels-last tensors: the same arithmetic, a quarter faster on this CPU (pilot)
    model = build(config, arm, len(data.classes)).to(memory_format=torch.channels_last)
    history = train(model, data, config.schedule, ctx, seed,
                    optimizer=adamw(model, config.schedule))
    final = {"params": count_parameters(model),
             "macs": count_macs(model, data.size, data.channels),
             **{k: history[k][-1] for k in ("train_loss", "train_error", "test_loss",
                                            "test_error")}}
    return ArmResult(history=history, final=final)


# --------------------------------------------------------------------------- claims
def accuracy(results, arm: str) -> np.ndarray:
    """Held-out accuracy (%) at the end of the run, one per seed."""
    return 100.0 * (1.0 - results.final(arm, "test_error"))


def _mean(results, arm: str) -> float:
    return float(accuracy(results, arm).mean())


def _depthwise_costs_accuracy(results) -> Verdict:
    before, after = _mean(results, "patchify"), _mean(results, "depthwise")
    return Verdict(after < before, f"mean held-out accuracy {after:.1f} % after the depth-wise "
                                   f"step, {before:.1f} % before it (the paper: 79.5 -> 78.3)")


def _widening_buys_it_back(results) -> Verdict:
    before, dw, wide = (_mean(results, a) for a in ("patchify", "depthwise", "wider"))
    return Verdict(wide > dw and wide >= before,
                   f"mean {wide:.1f} % after widening, {dw:.1f} % with the depth-wise conv, "
                   f"{before:.1f} % before it (the paper: 80.5, 78.3, 79.5)")


def _end_above_start(results) -> Verdict:
    first, last = arms(results.config)[0], arms(results.config)[-1]
    start, end = _mean(results, first), _mean(results, last)
    return Verdict(end >= start, f"mean held-out accuracy {end:.1f} % at the end ({last}), "
                                 f"{start:.1f} % at the start ({first}); the paper: 78.8 -> 82.0")


BIG_MOVE = 0.5   # points of ImageNet top-1: the paper's steps that clearly move accuracy


def big_paper_moves() -> dict[str, float]:
    """The steps whose paper accuracy moves by ``BIG_MOVE`` points or more: arm -> move."""
    names = [arm for arm, _ in STEPS]
    out = {}
    for before, after in zip(names, names[1:], strict=False):
        a, b = PAPER_TOP1[before], PAPER_TOP1[after]
        if a is not None and b is not None and abs(b - a) >= BIG_MOVE:
            out[after] = b - a
    return out


def _big_moves_agree(results) -> Verdict:
    names = arms(results.config)
    moves = big_paper_moves()
    agree = []
    for arm, move in moves.items():
        ours = _mean(results, arm) - _mean(results, names[names.index(arm) - 1])
        agree.append((arm, ours, (ours > 0) == (move > 0)))
    n = sum(ok for _, _, ok in agree)
    need = math.ceil(0.7 * len(moves))
    return Verdict(n >= need, f"{n} of {len(moves)} (at least {need} asked): " + ", ".join(
        f"{arm} {ours:+.1f} ({moves[arm]:+.1f}){'' if ok else ' x'}" for arm, ours, ok in agree))


TRAINS_ABOVE = 20.0   # held-out accuracy (%): twice chance


def _every_step_trains(results) -> Verdict:
    limit = TRAINS_ABOVE
    worst = min(arms(results.config), key=lambda a: accuracy(results, a).min())
    low = float(accuracy(results, worst).min())
    return Verdict(low > limit, f"lowest held-out accuracy of any step and seed {low:.1f} % "
                                f"({worst}); the bar {limit:.0f} %, chance 10 %")


# paper GFLOPs (``FIGURE2_GFLOPS``) before -> after, for consecutive steps it gives both of
def _costs_move_as_the_papers(results) -> Verdict:
    from cnncourse.models.convnext_roadmap import FIGURE2_GFLOPS

    paper = {arm: FIGURE2_GFLOPS.get(name) for arm, name in STEPS}
    names = arms(results.config)
    macs = {a: float(results.final(a, "macs")[0]) for a in names}
    pairs = [(a, b) for a, b in zip(names, names[1:], strict=False)
             if paper[a] is not None and paper[b] is not None]
    wrong = [b for a, b in pairs if (macs[b] > macs[a]) != (paper[b] > paper[a])]
    return Verdict(not wrong, f"{len(pairs) - len(wrong)} of {len(pairs)} steps move the MACs "
                              "the paper's way" + (f"; not: {', '.join(wrong)}" if wrong else "")
                   + "; " + ", ".join(f"{a} {macs[a] / 1e6:.2f} M" for a in names))


CLAIMS = (
    Claim("every step trains under the one recipe: each ends above twice chance (20 % "
          "held-out accuracy) in every seed, LayerNorm, GELU and layer scale included",
          _every_step_trains),
    Claim("the depth-wise convolution costs accuracy: its step ends below the step before "
          "it, in mean over seeds (the paper: 79.5 -> 78.3 %)", _depthwise_costs_accuracy),
    Claim("widening buys it back: the wider step ends above the depth-wise one and at or "
          "above the step before the depth-wise conv, in mean over seeds (the paper: 78.3 "
          "-> 80.5 %, above 79.5 %)", _widening_buys_it_back,
          known_failure=(  # written after the 12-epoch runs of 2026-12-07; claim as stated
              "widening wins back 6.8 of the depth-wise step's 15.6 points, not all of them: "
              "40.4 % mean (41.6/39.1/40.6), below the 49.3 % before the depth-wise conv in "
              "every seed; the next step, the inverted bottleneck, ends above it (53.4 %). "
              "No net here has fit its training set in 12 epochs (the wider one ends at 63 % "
              "training error), so the step is judged on how fast it learns; the paper's "
              "gain is after 300 epochs")),
    Claim("the road ends at or above its start: ConvNeXt's mean held-out accuracy is at "
          "least the ResNet's (the paper: 78.8 -> 82.0 %)", _end_above_start,
          known_failure=(  # written after the 12-epoch runs of 2026-12-07; claim as stated
              "ConvNeXt ends at 31.4 % (32.7/29.9/31.8), the ResNet at 68.4 % "
              "(70.4/67.7/66.9), where the paper's road gains 3.2 points. Neither has fit "
              "its training set in 12 epochs (training error 39 % for the ResNet, 70 % for "
              "ConvNeXt, each above its held-out error), so this compares how fast each "
              "learns under the recipe. The four steps that cost most (patchify stem -16, "
              "depth-wise conv -16, moving it up -15, LayerNorm -13 points) each make a "
              "layer do less; the paper trains 300 epochs on 1.28 million images, a run "
              "beyond this lab's CPU budget")),
    Claim("where the paper's accuracy moves by half a point or more (7 steps), the mean "
          "here moves the same way in at least 5 of them", _big_moves_agree),
    Claim("the scaled road keeps the paper's costs' shape: wherever the paper gives the cost "
          "before and after a step, the MACs here move the same way",
          _costs_move_as_the_papers),
)

EXPERIMENT = Experiment(
    name="roadmap", chapter="ch12",
    summary="the road from ResNet to ConvNeXt at CPU scale, every step trained with one "
            "recipe: held-out accuracy per step beside the paper's",
    config=CONFIG, arms=arms, run_arm=run_arm, claims=CLAIMS)
