"""Chapter 11: EfficientNet's scaling curves (Tan and Le 2019, Figures 3 and 4, Section 3.3).

A small base network (``cnncourse.lab.scaled_nets``: four rows of MBConv blocks with
squeeze-and-excitation, 81 thousand parameters, working at 8x8 pixels) is scaled up to
2, 4 and 8 times its multiply-accumulates in four ways: by width only, by depth only, by
input resolution only, and by all three at once (compound scaling, depth ``alpha**phi``,
width ``beta**phi``, resolution ``gamma**phi``). Each scaled network is trained with the
same recipe and its held-out error plotted against its MACs, per strategy, over seeds.

Two experiments, as the paper's two steps:

- ``scaling_grid``: the compound coefficients, found "by a small grid search" at phi = 1.
  Six triples with alpha * beta**2 * gamma**2 close to 2 (the paper's own 1.2, 1.1, 1.15
  among them) each scale the base once, to twice its MACs: phi = 1 in the paper's
  formula, here the phi (in steps of 0.02) whose measured MACs are nearest twice the
  base's, because rounding alone makes the six nets at phi = 1 cost 1.4 to 2.2 times the
  base, which would favour the dearest. Each trains on the first 6,000
  training digits and is scored on the other 2,000 (validation: the test digits are never
  searched on). The triple with the lowest mean validation error over the seeds wins.
- ``scaling``: the curves. Every strategy is taken to each budget by the multiplier whose
  measured MACs are nearest the budget (width on a grid of 0.01, depth of 0.05, resolution
  in whole pixels, compound in phi steps of 0.02 with the grid's triple), since at this
  size rounding (channels to a multiple of 4, blocks to whole numbers, whole pixels) makes
  d * w**2 * r**2 only roughly the cost. The x axis is the measured MACs.

Data: the bundled MNIST digits, not Clutter-10. The pilot (2026-12-07, one thread, niced,
on the shared machine) trained the base network on Clutter-10 at 11x11 pixels: after 600
steps of 128 images (42 CPU seconds) it still misclassified 78 % of held-out images, a net
on the plateau Clutter-10 puts every small network on for its first several hundred steps
(see ``classic``), and the whole experiment can afford only a few hundred steps per net.
On MNIST at 10x10 the base net reached 4.2 % held-out error in 500 steps of 64 (4 epochs,
26 CPU seconds: 53 ms a step with evaluations), so every net leaves the start within the
budget, and 8x8 digits leave resolution room to grow to the digits' own 28 pixels (2x,
4x and 8x the base's MACs are 11, 16 and 22 pixels).

Pilot timings (CPU seconds a step of 64 images, one thread): the base 0.05; depth x8 (at
9x9) 0.39; resolution 28 0.29. Summed over the 13 nets of a seed about 2 s a step, so
3 epochs of the 8,000 digits (375 steps) cost about 13 CPU minutes a seed, 39 for three
seeds, and the grid (6 nets near 2x the base, 3 epochs of 6,000, 2 seeds) about 5 more.

Recipe, the same for every net: SGD with momentum 0.9, weight decay 5e-5, batches of 64,
rate 0.1 divided by 10 at half and three quarters of the run, random crops (4 pixels of
padding at 28x28, before the network resizes; no flips for digits), 3 epochs. No dropout
or stochastic depth (the paper's B0 has both; these runs are too short to over-fit much).

Redesigned after seed 0 of that run (2026-12-07): at 3 epochs every one of the 13 nets was
still learning fast (the base's training error 13 % after epoch 2, 9 % after epoch 3), and
the deeper the net, the further behind it was: depth x8 (50 blocks) ended at 10.6 %
held-out error against the base's 7.2 %, an under-trained net, not a finding about depth.
So the curves train for 12 epochs (1,500 steps): 37.5 CPU minutes a seed, as run. The grid
search keeps its 3 epochs: it is the paper's proxy step, a small search at phi = 1, and its
stored results stand.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cnncourse.analysis import count_parameters
from cnncourse.lab.datasets import ImageData, load_data
from cnncourse.lab.loop import RunContext, Schedule, train
from cnncourse.lab.scaled_nets import ScaledNet, Scaling, scaled_macs
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict
from cnncourse.lab.sweep import load_dependency

STRATEGIES = ("width", "depth", "resolution", "compound")
PAPER_TRIPLE = (1.2, 1.1, 1.15)


def _schedule() -> Schedule:
    return Schedule(epochs=3, lr=0.1, batch_size=64, momentum=0.9, weight_decay=5e-5,
                    milestones=(0.5, 0.75), augment=True)


@dataclass(frozen=True)
class GridConfig:
    data: str = "mnist"
    seeds: tuple[int, ...] = (0, 1)
    base_resolution: int = 8
    # (alpha, beta, gamma): depth, width and resolution growth at phi = 1, each with
    # alpha * beta**2 * gamma**2 between 1.85 and 2.05, and each making a different net at
    # twice the base's MACs (many triples round to the same one: the paper's and
    # (1.0, 1.2, 1.2) both give the base's blocks, 68 channels at the end, 9x9 pixels)
    triples: tuple[tuple[float, float, float], ...] = (
        PAPER_TRIPLE, (1.1, 1.05, 1.25), (1.0, 1.35, 1.05), (1.2, 1.2, 1.05),
        (1.4, 1.1, 1.05), (1.6, 1.05, 1.05))
    n_train: int = 6_000
    val: tuple[int, int] = (6_000, 8_000)   # training-split digits held out for validation
    schedule: Schedule = field(default_factory=_schedule)


@dataclass(frozen=True)
class ScalingConfig:
    data: str = "mnist"
    seeds: tuple[int, ...] = (0, 1, 2)
    base_resolution: int = 8
    budgets: tuple[int, ...] = (2, 4, 8)   # times the base's MACs
    n_train: int | None = None   # all 8,000 training digits
    n_test: int | None = None    # all 2,000 test digits
    # 12 epochs (1,500 steps), where the grid's proxy runs 3: see "Redesigned" above
    schedule: Schedule = field(default_factory=lambda: dataclasses.replace(_schedule(),
                                                                           epochs=12))


# ------------------------------------------------------------------ scaling a net
def triple_arm(triple: tuple[float, float, float]) -> str:
    """The grid's arm name for a triple: ``a1.2_b1.1_g1.15``."""
    return "a{:g}_b{:g}_g{:g}".format(*triple)


def compound(phi: float, triple: tuple[float, float, float], base_resolution: int,
             max_resolution: int) -> Scaling:
    """Depth ``alpha**phi``, width ``beta**phi``, resolution ``gamma**phi`` times the base's
    (whole pixels, at most the images' own size)."""
    alpha, beta, gamma = triple
    resolution = min(max_resolution, int(base_resolution * gamma**phi + 0.5))
    return Scaling(depth=alpha**phi, width=beta**phi, resolution=resolution)


def candidates(strategy: str, base_resolution: int, max_resolution: int,
               triple: tuple[float, float, float] = PAPER_TRIPLE) -> list[Scaling]:
    """Every net a strategy may pick from, in increasing size."""
    r = base_resolution
    if strategy == "width":
        return [Scaling(1.0, 1.0 + i / 100, r) for i in range(0, 301)]
    if strategy == "depth":
        return [Scaling(1.0 + i / 20, 1.0, r) for i in range(0, 181)]
    if strategy == "resolution":
        return [Scaling(1.0, 1.0, s) for s in range(r, max_resolution + 1)]
    if strategy == "compound":
        return [compound(i / 50, triple, r, max_resolution) for i in range(0, 301)]
    raise ValueError(f"unknown strategy {strategy!r}")


@functools.lru_cache(maxsize=4096)
def _macs(scaling: Scaling, in_channels: int) -> int:
    return scaled_macs(scaling, in_channels=in_channels)


def nearest_budget(options: list[Scaling], target: float,
                   macs: Callable[[Scaling], int]) -> Scaling:
    """The option whose MACs are nearest ``target`` in ratio. MACs grow with the options'
    order, so a bisection finds the first at or above the target; it or the one before
    it is the nearest."""
    lo, hi = 0, len(options) - 1
    if macs(options[hi]) < target:
        return options[hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if macs(options[mid]) >= target:
            hi = mid
        else:
            lo = mid + 1
    if lo == 0:
        return options[0]
    below, above = options[lo - 1], options[lo]
    return min((below, above), key=lambda s: abs(math.log(macs(s) / target)))


def _fit(scaling: Scaling, data: ImageData, config, ctx: RunContext, seed: int,
         extra: dict | None = None) -> ArmResult:
    model = ScaledNet(scaling, in_channels=data.channels, num_classes=len(data.classes))
    history = train(model, data, config.schedule, ctx, seed)
    final = {"test_error": history["test_error"][-1], "train_error": history["train_error"][-1],
             "test_loss": history["test_loss"][-1], "train_loss": history["train_loss"][-1],
             "macs": float(_macs(scaling, data.channels)),
             "params": float(count_parameters(model)), "depth": scaling.depth,
             "width": scaling.width, "resolution": float(scaling.resolution),
             "blocks": float(len(model.blocks))}
    return ArmResult(history=history, final=final, extra=extra or {})


# ------------------------------------------------------------------ the grid search
GRID_CONFIG = GridConfig()


def grid_arms(config: GridConfig) -> list[str]:
    return [triple_arm(t) for t in config.triples]


def grid_data(config: GridConfig) -> ImageData:
    """The first ``n_train`` training digits, with the ``val`` slice of the training split
    as the held-out set (the test digits are not looked at)."""
    full = load_data(config.data)
    lo, hi = config.val
    return dataclasses.replace(full, train_x=full.train_x[:config.n_train],
                               train_y=full.train_y[:config.n_train],
                               test_x=full.train_x[lo:hi], test_y=full.train_y[lo:hi])


def run_grid_arm(config: GridConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    triple = dict(zip(grid_arms(config), config.triples, strict=True))[arm]
    data = grid_data(config)
    base = _macs(Scaling(resolution=config.base_resolution), data.channels)
    options = candidates("compound", config.base_resolution, data.size, triple)
    scaling = nearest_budget(options, 2 * base, lambda s: _macs(s, data.channels))
    return _fit(scaling, data, config, ctx, seed,
                extra={"triple": list(triple), "base_macs": base,
                       "phi": math.log(scaling.width) / math.log(triple[1]),
                       "predicted_factor": triple[0] * triple[1] ** 2 * triple[2] ** 2})


def chosen_triple(grid) -> tuple[float, float, float]:
    """The grid's triple with the lowest mean validation error over its seeds (ties: the
    first listed)."""
    means = [float(grid.final(triple_arm(t), "test_error").mean()) for t in grid.config.triples]
    return tuple(grid.config.triples[int(np.argmin(means))])


def _grid_learns(results) -> Verdict:
    """Every net of the grid leaves the start: validation error under 10 % (chance 90 %)."""
    errors = {a: float(results.final(a, "test_error").max()) for a in results.arms}
    worst = max(errors, key=errors.get)
    best = chosen_triple(results)
    return Verdict(errors[worst] < 0.10,
                   f"highest validation error {100 * errors[worst]:.2f} % ({worst}); chosen "
                   f"alpha, beta, gamma = {best[0]:g}, {best[1]:g}, {best[2]:g}")


def _grid_near_double(results) -> Verdict:
    """The grid compares at equal cost: each triple's net within 15 % of twice the base's
    MACs (the cost phi = 1 stands for)."""
    factors = {a: results.final(a, "macs")[0] / results.extra(a, "base_macs")[0]
               for a in results.arms}
    worst = max(abs(f / 2 - 1) for f in factors.values())
    return Verdict(worst <= 0.15, "measured MACs: " + ", ".join(
        f"{a} {f:.2f}x" for a, f in factors.items()))


GRID = Experiment(
    name="scaling_grid", chapter="ch11",
    summary="grid search of EfficientNet's compound coefficients at phi = 1 (small net, "
            "MNIST)",
    config=GRID_CONFIG, arms=grid_arms, run_arm=run_grid_arm,
    claims=(
        Claim("every triple of the grid trains: validation error under 10 % in every seed",
              _grid_learns),
        Claim("the grid compares at equal cost: every triple's net is within 15 % of twice "
              "the base's MACs", _grid_near_double),
    ))


# ------------------------------------------------------------------ the scaling curves
CONFIG = ScalingConfig()


def arm_name(strategy: str, budget: int) -> str:
    return f"{strategy}_x{budget}"


def arms(config: ScalingConfig) -> list[str]:
    return ["base", *(arm_name(s, b) for b in config.budgets for s in STRATEGIES)]


def scaling_data(config: ScalingConfig) -> ImageData:
    return load_data(config.data).head(config.n_train, config.n_test)


def scaling_of(config: ScalingConfig, arm: str, in_channels: int, max_resolution: int,
               triple: tuple[float, float, float] = PAPER_TRIPLE) -> Scaling:
    """The net an arm trains: the base, or a strategy's net nearest its budget."""
    base = Scaling(resolution=config.base_resolution)
    if arm == "base":
        return base
    strategy, budget = arm.split("_x")
    options = candidates(strategy, config.base_resolution, max_resolution, triple)
    target = int(budget) * _macs(base, in_channels)
    return nearest_budget(options, target, lambda s: _macs(s, in_channels))


def run_arm(config: ScalingConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    grid = load_dependency(GRID.name, ctx)
    triple = chosen_triple(grid)
    data = scaling_data(config)
    scaling = scaling_of(config, arm, data.channels, data.size, triple)
    base = _macs(Scaling(resolution=config.base_resolution), data.channels)
    return _fit(scaling, data, config, ctx, seed,
                extra={"triple": list(triple), "base_macs": base})


# ------------------------------------------------------------------ claims
def _mean_error(results, arm: str) -> float:
    return float(results.final(arm, "test_error").mean())


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def _compound_best_at_top(results) -> Verdict:
    top = max(results.config.budgets)
    means = {s: _mean_error(results, arm_name(s, top)) for s in STRATEGIES}
    others = [s for s in STRATEGIES if s != "compound"]
    ok = all(means["compound"] < means[s] for s in others)
    return Verdict(ok, f"mean held-out error at {top}x: " + ", ".join(
        f"{s} {_pct(means[s])}" for s in STRATEGIES))


def _single_dimensions_saturate(results) -> Verdict:
    """Diminishing returns: each single dimension's last doubling of cost gains less than
    its first (gains in mean held-out error; a loss counts as a negative gain)."""
    budgets = sorted(results.config.budgets)
    first, last = budgets[0], budgets[-1]
    before_last = budgets[-2]
    parts, ok = [], True
    for s in ("width", "depth", "resolution"):
        gain_first = _mean_error(results, "base") - _mean_error(results, arm_name(s, first))
        gain_last = (_mean_error(results, arm_name(s, before_last))
                     - _mean_error(results, arm_name(s, last)))
        ok &= gain_last < gain_first
        parts.append(f"{s}: 1x->{first}x {100 * gain_first:+.2f}, {before_last}x->{last}x "
                     f"{100 * gain_last:+.2f} points")
    return Verdict(ok, "; ".join(parts))


def _every_strategy_helps(results) -> Verdict:
    top = max(results.config.budgets)
    base = results.final("base", "test_error")
    parts, ok = [], True
    for s in STRATEGIES:
        errors = results.final(arm_name(s, top), "test_error")
        ok &= bool((errors < base).all())
        parts.append(f"{s} {_pct(float(errors.mean()))}")
    return Verdict(ok, f"base {_pct(float(base.mean()))}; at {top}x: " + ", ".join(parts))


def _budgets_matched(results) -> Verdict:
    """A comparison at equal cost: every scaled net within 15 % of its budget's MACs."""
    worst, where = 0.0, ""
    base = results.final("base", "macs")[0]
    for arm in results.arms:
        if arm == "base":
            continue
        budget = int(arm.split("_x")[1])
        off = abs(results.final(arm, "macs")[0] / (budget * base) - 1.0)
        if off > worst:
            worst, where = off, arm
    return Verdict(worst <= 0.15, f"largest distance from the budget {100 * worst:.1f} % "
                                  f"({where})")


CLAIMS = (
    Claim("scaling up helps whichever way it is done: at the largest budget every strategy's "
          "net ends with a lower held-out error than the base, in every seed",
          _every_strategy_helps,
          known_failure=(  # written after the 12-epoch run of 2026-12-07; claim as stated
              "depth alone makes the net worse: at 8x (50 MBConv blocks) the held-out error "
              "is 4.15/4.25/4.6 % against the base's 3.65/4.0/3.65 %, while its training "
              "error stays about the base's (4.06 against 4.01 % on average; at 2x and 4x "
              "as deep it is even lower). More layers on the same 8x8 digits add capacity "
              "but no detail to use, and the paper's flattening depth curve becomes a "
              "slight loss here. Width, resolution and compound all end below the base in "
              "every seed")),
    Claim("scaling one dimension saturates: for width, depth and resolution alike, the last "
          "doubling of cost lowers the mean held-out error by less than the first",
          _single_dimensions_saturate),
    Claim("at the largest budget compound scaling ends with a lower mean held-out error than "
          "scaling width, depth or resolution alone", _compound_best_at_top,
          known_failure=(  # written after the 12-epoch run of 2026-12-07; claim as stated
              "resolution alone ends lowest at 8x (1.57 % mean held-out error, compound "
              "1.70 %, a gap inside the seeds' spread of 0.35 and 0.6 points); compound "
              "beats width (3.42 %) and depth (4.33 %) by far. On digits shrunk to 8 "
              "pixels, resolution is what the base lacks: the grid search found as much, "
              "picking the grid's most resolution-heavy triple (gamma 1.25), and the "
              "width and depth that compound scaling spends part of the budget on buy "
              "little here")),
    Claim("the comparison is at equal cost: every scaled net's MACs are within 15 % of its "
          "budget", _budgets_matched),
)

EXPERIMENT = Experiment(
    name="scaling", chapter="ch11",
    summary="a small MBConv net scaled by width, depth, resolution or all three to 2, 4 and "
            "8 times its MACs (MNIST)",
    config=CONFIG, arms=arms, run_arm=run_arm, claims=CLAIMS, depends_on=(GRID.name,))
