"""How a chapter shows a stored experiment: every seed, the mean, and the claims' verdicts.

A lab figure never hides a seed: each seed is a thin line, the mean over seeds a thick one,
and the band between the lowest and highest seed is shaded, so the reader sees the spread
the claims are judged against. The claims are printed as the lab decided them, failures
included, with the reason given after the run for a failure (``Claim.known_failure``).
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes

from cnncourse.lab.results import Results
from cnncourse.palette import CYCLE, GREY, GREY_LIGHT


def plot_seeds(results: Results, metric: str, arms: Sequence[str] | None = None, *,
               labels: dict[str, str] | None = None, ax: Axes | None = None,
               x: str = "step", percent: bool | None = None,
               styles: Sequence[str] = ("-", "--", "-.", ":")) -> Axes:
    """One metric's history for each arm: every seed thin, their mean thick, the range
    shaded. ``percent`` (default: for metrics named ``*_error``) shows fractions as %."""
    arms = list(results.arms if arms is None else arms)
    labels = labels or {}
    percent = metric.endswith("error") if percent is None else percent
    scale = 100.0 if percent else 1.0
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    for i, arm in enumerate(arms):
        values = scale * results.history(arm, metric)
        steps = np.asarray(results.arm(results.seeds[0], arm)["history"][x])
        colour, style = CYCLE[i % len(CYCLE)], styles[i % len(styles)]
        for row in values:
            ax.plot(steps, row, color=colour, linewidth=0.7, alpha=0.45, linestyle=style)
        ax.fill_between(steps, values.min(axis=0), values.max(axis=0), color=colour,
                        alpha=0.12, linewidth=0)
        ax.plot(steps, values.mean(axis=0), color=colour, linewidth=2.2, linestyle=style,
                label=f"{labels.get(arm, arm)} (mean of {len(values)} seeds)")
    ax.set_xlabel({"step": "training step", "epoch": "epoch"}.get(x, x))
    ax.set_ylabel(metric.replace("_", " ") + (" (%)" if percent else ""))
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return ax


def seed_table(results: Results, metrics: Sequence[str], arms: Sequence[str] | None = None,
               *, labels: dict[str, str] | None = None) -> str:
    """Final metrics as a Markdown table: one row per arm and metric, one column per seed,
    then the mean and the range over seeds (errors in %)."""
    arms = list(results.arms if arms is None else arms)
    labels = labels or {}
    head = ["metric", "arm", *(f"seed {s}" for s in results.seeds), "mean", "range"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * 2 + " ---: |" * (len(head) - 2)]
    for metric in metrics:
        percent = metric.endswith("error")
        name = metric.replace("_", " ") + (" (%)" if percent else "")
        for arm in arms:
            values = (100.0 if percent else 1.0) * results.final(arm, metric)
            cells = [name, labels.get(arm, arm), *(_number(v, percent) for v in values),
                     _number(values.mean(), percent), _number(np.ptp(values), percent)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value: float, percent: bool) -> str:
    return f"{value:.1f}" if percent else f"{value:.3f}"


def claims_markdown(results: Results) -> str:
    """The experiment's claims, each with its verdict and the numbers that decided it, as
    Markdown (``IPython.display.Markdown`` renders it on the page)."""
    lines = []
    for text, verdict in results.verdicts():
        mark = "**holds**" if verdict.holds else "**fails**"
        why = f". Why it fails: {verdict.explained.rstrip('.')}." if verdict.explained else ""
        lines.append(f"- {mark}: {text}. *{verdict.detail}*{why}")
    return "\n".join(lines)


def provenance(results: Results) -> str:
    """One sentence on where the stored numbers come from: seeds, time, machine, versions."""
    manifest = results.manifest
    seconds = sum(results.wall_seconds().values())
    cpu = results.cpu_seconds()   # None for runs stored before the lab recorded it
    cost = f" ({sum(cpu.values()) / 60:.0f} min of CPU time)" if cpu else ""
    seeds = ", ".join(map(str, results.seeds))
    return (f"Stored by `cnncourse lab run {results.experiment.name}`: seeds {seeds}, "
            f"{seconds / 60:.0f} min of training{cost} on {manifest['threads']} CPU thread"
            f"{'s' if manifest['threads'] != 1 else ''} ({manifest['device']}), torch "
            f"{manifest['torch_version']}, commit {manifest['git_commit'][:7]}; "
            f"`cnncourse lab check {results.experiment.name}` verifies the files and "
            f"replays the first steps.")


def plot_reliability(diagrams: Sequence[dict], *, ax: Axes | None = None, label: str = "",
                     colour: str = CYCLE[0]) -> Axes:
    """A reliability diagram (Guo et al. 2017) over seeds: per equal-width confidence bin,
    the accuracy against the mean confidence, every seed thin and all seeds pooled thick,
    the diagonal of a calibrated network dotted and each bin's share of the images as grey
    bars. ``diagrams``: one dict per seed with per-bin ``count``, ``confidence`` and
    ``accuracy`` lists (``nan`` for an empty bin)."""
    count = np.array([d["count"] for d in diagrams], dtype=float)
    confidence = np.array([d["confidence"] for d in diagrams], dtype=float)
    accuracy = np.array([d["accuracy"] for d in diagrams], dtype=float)
    bins = count.shape[1]
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.6))
    total = count.sum(axis=0)
    centres = (np.arange(bins) + 0.5) / bins
    ax.bar(centres, total / total.sum(), width=0.9 / bins, color=GREY_LIGHT,
           edgecolor=GREY, linewidth=0.5, label="share of images")
    ax.plot([0, 1], [0, 1], color=GREY, linestyle=":", linewidth=1.2, label="calibrated")
    for conf, acc in zip(confidence, accuracy, strict=True):
        ax.plot(conf, acc, color=colour, linewidth=0.7, alpha=0.45, marker=".", markersize=3)
    filled = total > 0
    pooled_conf = np.nansum(confidence * count, axis=0)[filled] / total[filled]
    pooled_acc = np.nansum(accuracy * count, axis=0)[filled] / total[filled]
    ax.plot(pooled_conf, pooled_acc, color=colour, linewidth=2.2, marker="o", markersize=4,
            label=f"{label} ({len(diagrams)} seed{'s' if len(diagrams) != 1 else ''} "
                  "pooled)".strip())
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, loc="upper left")
    return ax
