"""Chapter 10: a tabular NAS benchmark, NAS-Bench-201's method (Dong and Yang 2020) on a CPU.

Every network of a small cell space (``cnncourse.nas.cell``: the NAS-Bench-201 cell, 4 nodes
and 6 edges, with three operations, 3^6 = 729 cells) is trained once at a short and at a
longer budget, and the table (cell -> validation and test accuracy at each budget,
parameters, MACs, training time) is stored. Chapter 10 then runs whole searches over the
table in seconds: a search "trains" a network by looking it up.

Cells that differ only in edges that never reach the output compute the same network
(``cell.canonical``), so each of the 291 distinct networks is trained once and the 729 cells
share their network's row, as NAS-Bench-101 stores each distinct graph once.

Data (piloted): on Clutter-10 at 16x16, 3 epochs of 5,000 images take the all-convolution
network 13 CPU seconds and leave every network between 11 and 16 % accuracy, which ranks
nothing; the table uses the bundled MNIST digits at 14x14 instead: 3,000 training digits,
2,000 more from the training split held out for validation (the searches' reward) and the
2,000 test digits (reported, never searched on); a first run with 4,000 digits and 4 epochs
took 6.7 CPU seconds a network, too long for the machine the lab shared, so the table uses
3,000 digits and 3 epochs. Training: SGD with momentum 0.9, weight
decay 5e-4, batches of 64, rate 0.05 divided by 10 at half and three quarters of the run,
no augmentation; the short budget is 1 epoch, the long one 3 epochs, each with its own
schedule (the short run is not a prefix of the long one). Each network is seeded by its
index, so its numbers do not depend on which chunk it is in.

Arms are chunks of ``chunk_size`` networks, so a stopped run resumes at the chunk it was in.
A last arm, ``repeats``, trains a few networks fixed here again under another seed at the
long budget: how far one training run is from another, which the table's one run per
network cannot show.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from cnncourse.analysis.benchmark import meta_costs
from cnncourse.lab.datasets import ImageData, load_data
from cnncourse.lab.loop import RunContext, Schedule, logits_of, loss_and_error, train
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict
from cnncourse.nas.cell import OPS, CellNet, all_cells, canonical, cell_label, live_edges

BUDGETS = ("short", "long")


@dataclass(frozen=True)
class NasBenchConfig:
    data: str = "mnist"
    seeds: tuple[int, ...] = (0,)
    ops: tuple[str, ...] = OPS
    width: int = 8                # channels of the first stage (8, 16, 32 over the stages)
    cells_per_stage: int = 1
    downsample: int = 2           # 14x14 digits
    n_train: int = 3_000
    val: tuple[int, int] = (6_000, 8_000)   # training-split digits held out for validation
    chunk_size: int = 16
    repeats: tuple[int, ...] = (0, 36, 72, 108, 144, 180, 216, 252)  # network indices
    short: Schedule = field(default_factory=lambda: Schedule(
        epochs=1, lr=0.05, batch_size=64, momentum=0.9, weight_decay=5e-4,
        milestones=(0.5, 0.75), augment=False))
    long: Schedule = field(default_factory=lambda: Schedule(
        epochs=3, lr=0.05, batch_size=64, momentum=0.9, weight_decay=5e-4,
        milestones=(0.5, 0.75), augment=False))


CONFIG = NasBenchConfig()


def networks(config: NasBenchConfig) -> list[tuple[int, ...]]:
    """The distinct networks (canonical cells), in the order of their first cell."""
    seen: dict[tuple[int, ...], None] = {}
    for arch in all_cells(config.ops):
        seen.setdefault(canonical(arch, config.ops))
    return list(seen)


def arms(config: NasBenchConfig) -> list[str]:
    n = len(networks(config))
    chunks = (n + config.chunk_size - 1) // config.chunk_size
    return [f"chunk{i:02d}" for i in range(chunks)] + ["repeats"]


def _data(config: NasBenchConfig) -> tuple[ImageData, torch.Tensor, torch.Tensor]:
    """(training digits with the validation digits as its held-out set, test images, labels)."""
    full = load_data(config.data).downsampled(config.downsample)
    lo, hi = config.val
    data = replace(full, train_x=full.train_x[:config.n_train],
                   train_y=full.train_y[:config.n_train],
                   test_x=full.train_x[lo:hi], test_y=full.train_y[lo:hi])
    return data, full.test_x, full.test_y


def _build(config: NasBenchConfig, arch: tuple[int, ...], data: ImageData,
           device: str = "cpu") -> CellNet:
    return CellNet(arch, width=config.width, cells_per_stage=config.cells_per_stage,
                   in_channels=data.channels, num_classes=len(data.classes), ops=config.ops)


def costs(config: NasBenchConfig, arch: tuple[int, ...]) -> tuple[int, int]:
    """(parameters, MACs per image) of a network, from a forward pass on the meta device."""
    data = load_data(config.data)
    size = data.size // config.downsample
    with torch.device("meta"):
        model = CellNet(arch, width=config.width, cells_per_stage=config.cells_per_stage,
                        in_channels=data.channels, num_classes=len(data.classes),
                        ops=config.ops)
    params, macs, _ = meta_costs(model, (data.channels, size, size))
    return params, macs


def network_seed(seed: int, index: int) -> int:
    """The seed of network ``index``'s runs under the experiment's ``seed``."""
    return seed * 1_000_003 + index


def train_network(config: NasBenchConfig, arch: tuple[int, ...], schedule: Schedule, seed: int,
                  ctx: RunContext, data: ImageData, test: tuple[torch.Tensor, torch.Tensor]
                  ) -> dict[str, float]:
    """Train one network from scratch under ``schedule``; its accuracies and times."""
    torch.manual_seed(seed)
    model = _build(config, arch, data, ctx.device)
    start, cpu = time.perf_counter(), time.process_time()
    train(model, data, schedule, ctx, seed, evaluate_test=False)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    _, val_error = loss_and_error(logits_of(model, data, data.test_x, ctx.device), data.test_y)
    _, test_error = loss_and_error(logits_of(model, data, test[0], ctx.device), test[1])
    return {"val_accuracy": 1.0 - val_error, "test_accuracy": 1.0 - test_error,
            "seconds": seconds, "cpu_seconds": cpu_seconds}


def run_arm(config: NasBenchConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    data, test_x, test_y = _data(config)
    nets = networks(config)
    if arm == "repeats":
        indices, budgets, run_seed = list(config.repeats), ("long",), seed + 1
    else:
        chunk = int(arm.removeprefix("chunk"))
        indices = list(range(chunk * config.chunk_size,
                             min(len(nets), (chunk + 1) * config.chunk_size)))
        budgets, run_seed = BUDGETS, seed
    rows: list[dict[str, Any]] = []
    for k, index in enumerate(indices):
        arch = nets[index]
        params, macs = costs(config, arch)
        row: dict[str, Any] = {"index": index, "cell": cell_label(arch, config.ops),
                               "params": params, "macs": macs}
        for budget in budgets:
            schedule = config.short if budget == "short" else config.long
            # the arm's first run records its first steps (``check`` replays them)
            run_ctx = ctx if k == 0 and budget == budgets[0] else RunContext(
                device=ctx.device, record_steps=0)
            row[budget] = train_network(config, arch, schedule,
                                        network_seed(run_seed, index), run_ctx, data,
                                        (test_x, test_y))
        rows.append(row)
        if ctx.progress is not None:
            ctx.progress(f"network {index} {row['cell']}: " + ", ".join(
                f"{b} {100 * row[b]['val_accuracy']:.1f} % in {row[b]['cpu_seconds']:.1f} s"
                for b in budgets))
    final = {f"{b}_best_val": max(r[b]["val_accuracy"] for r in rows) for b in budgets}
    final["networks"] = float(len(rows))
    final["cpu_seconds"] = float(sum(r[b]["cpu_seconds"] for r in rows for b in budgets))
    return ArmResult(final=final, extra={"rows": rows})


# ------------------------------------------------------------------ the table, read back
def table(results) -> dict[str, Any]:
    """The stored table, one row per cell of the space (729), each with its network's
    numbers: ``cells`` (tuples), ``network`` (index per cell), and per budget arrays of
    ``val``/``test`` accuracy and CPU seconds; ``params``, ``macs``; ``live`` (bool)."""
    config = results.config
    seed = results.seeds[0]
    rows: dict[int, dict[str, Any]] = {}
    for arm in results.arms:
        if arm != "repeats":
            for row in results.arm(seed, arm)["extra"]["rows"]:
                rows[row["index"]] = row
    nets = networks(config)
    position = {arch: i for i, arch in enumerate(nets)}
    cells = all_cells(config.ops)
    network = np.array([position[canonical(a, config.ops)] for a in cells])
    out: dict[str, Any] = {"cells": cells, "network": network,
                           "live": np.array([bool(live_edges(a, config.ops)) for a in cells]),
                           "params": np.array([rows[i]["params"] for i in network]),
                           "macs": np.array([rows[i]["macs"] for i in network])}
    for budget in BUDGETS:
        for key, name in (("val_accuracy", "val"), ("test_accuracy", "test"),
                          ("cpu_seconds", "cpu_seconds")):
            out[f"{budget}_{name}"] = np.array([rows[i][budget][key] for i in network])
    return out


def repeats(results) -> dict[str, np.ndarray]:
    """The repeated networks: their index, and long-budget validation accuracy in the
    table's run and in the second run."""
    seed = results.seeds[0]
    table_rows = {r["index"]: r for arm in results.arms if arm != "repeats"
                  for r in results.arm(seed, arm)["extra"]["rows"]}
    again = results.arm(seed, "repeats")["extra"]["rows"]
    index = np.array([r["index"] for r in again])
    return {"index": index,
            "first": np.array([table_rows[i]["long"]["val_accuracy"] for i in index]),
            "second": np.array([r["long"]["val_accuracy"] for r in again])}


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation (ties get their mean rank)."""
    def ranks(x: np.ndarray) -> np.ndarray:
        order = np.argsort(x, kind="stable")
        r = np.empty(len(x))
        r[order] = np.arange(len(x))
        for value in np.unique(x):  # mean rank of ties
            tied = x == value
            r[tied] = r[tied].mean()
        return r
    return float(np.corrcoef(ranks(np.asarray(a)), ranks(np.asarray(b)))[0, 1])


# ------------------------------------------------------------------ claims (before the run)
CHANCE_BAR, TOP_BAR = 0.15, 0.95
RANK_BAR = 0.3
MARGIN = 0.005   # half a point: 10 of the 2,000 validation digits


def _distinct(results, live_only: bool = False) -> dict[str, np.ndarray]:
    """One entry per distinct network (not per cell), optionally only those that compute."""
    t = table(results)
    _, first = np.unique(t["network"], return_index=True)
    keep = first[t["live"][first]] if live_only else first
    return {k: v[keep] for k, v in t.items() if isinstance(v, np.ndarray)}


def _wide_range(results) -> Verdict:
    long = table(results)["long_val"]
    return Verdict(bool(long.min() < CHANCE_BAR and long.max() > TOP_BAR),
                   f"long-budget validation accuracy from {100 * long.min():.1f} to "
                   f"{100 * long.max():.1f} % over the 729 cells")


def _proxy_positive(results) -> Verdict:
    d = _distinct(results, live_only=True)
    rho = spearman(d["short_val"], d["long_val"])
    return Verdict(rho > RANK_BAR, f"Spearman {rho:.2f} over the {len(d['long_val'])} "
                                   f"distinct networks that compute something")


def _best_beats_median(results) -> Verdict:
    long = table(results)["long_val"]
    margin = long.max() - np.median(long)
    return Verdict(bool(margin >= MARGIN), f"best {100 * long.max():.2f} %, median of the 729 "
                                           f"cells {100 * np.median(long):.2f} %: "
                                           f"{100 * margin:.2f} points")


def _short_budget_wider(results) -> Verdict:
    d = _distinct(results, live_only=True)
    short, long = np.ptp(d["short_val"]), np.ptp(d["long_val"])
    return Verdict(bool(short > long), f"among networks that compute: short budget spans "
                                       f"{100 * short:.1f} points, long {100 * long:.1f}")


CLAIMS = (
    Claim(f"the table spans a wide accuracy range: at the long budget the worst cell is at "
          f"chance (below {100 * CHANCE_BAR:.0f} %) and the best above {100 * TOP_BAR:.0f} %",
          _wide_range),
    Claim(f"the short budget is a useful proxy: its rank correlation with the long budget, "
          f"over the networks that compute something, is above {RANK_BAR}", _proxy_positive),
    Claim(f"the best cell beats the median cell by at least {100 * MARGIN:.1f} points at the "
          "long budget", _best_beats_median),
    Claim("the short budget separates the networks more widely than the long one, which "
          "saturates", _short_budget_wider),
)

EXPERIMENT = Experiment(
    name="nas_bench", chapter="ch10",
    summary="every network of a 729-cell NAS-Bench-201-like space trained at two budgets",
    config=CONFIG, arms=arms, run_arm=run_arm, claims=CLAIMS)
