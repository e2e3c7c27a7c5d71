"""The course's recurring plots. Every function returns a matplotlib ``Figure``.

The figures are closed in pyplot before they are returned, so a notebook shows each one
exactly once, when it is the cell's value (or passed to ``display`` / ``myst_nb.glue``);
nothing calls ``plt.show()``. In a script, use ``fig.savefig(...)``. Colours come from
``cnncourse.palette`` (Okabe-Ito), the one palette of the book.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator

from cnncourse.analysis.layers import LayerRow, LayerTable
from cnncourse.palette import CYCLE, GREY_DARK, OKABE_ITO

METRIC_LABELS = {
    "params": "parameters",
    "trainable_params": "trainable parameters",
    "macs": "MACs (one example)",
    "activation_bytes": "activation memory (one example)",
}


def human_count(value: float) -> str:
    """``1234567 -> "1.2M"``: decimal K, M, G, T for counts such as parameters and MACs."""
    return _human(value, 1000.0, ("", "K", "M", "G", "T"))


def human_bytes(value: float) -> str:
    """``1161600 -> "1.1 MiB"``: binary units (1 KiB = 1024 bytes) for memory."""
    return _human(value, 1024.0, (" B", " KiB", " MiB", " GiB", " TiB"))


def _human(value: float, base: float, units: Sequence[str]) -> str:
    step = 0
    while abs(value) >= base and step < len(units) - 1:
        value /= base
        step += 1
    text = f"{value:.0f}" if step == 0 or abs(value) >= 100 else f"{value:.3g}"
    return text + units[step]


def _binary_ticks(top: float) -> list[float]:
    """Round tick positions in the binary unit that fits ``top`` (0, 256 KiB, 512 KiB, ...)."""
    if top <= 0:
        return [0.0]
    unit = 1024.0 ** int(math.log(top, 1024))
    return [float(t) * unit for t in MaxNLocator(nbins=5, steps=[1, 2, 2.5, 4, 5, 8, 10])
            .tick_values(0, top / unit) if 0 <= t <= top / unit * 1.05]


def _numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().float().numpy()
    return np.asarray(x, dtype=np.float32)


def _grid(n: int, ncols: int, cell: float = 1.2, cell_height: float | None = None,
          extra_height: float = 0.0):
    """A figure with exactly ``n`` axes on a grid of ``ncols`` columns, ticks off."""
    if n < 1:
        raise ValueError("nothing to show: got 0 images")
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    height = (cell_height or cell) * nrows + extra_height
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, height), squeeze=False)
    plt.close(fig)  # returned, not shown by pyplot: see the module docstring
    flat = list(axes.flat)
    for ax in flat[n:]:
        fig.delaxes(ax)
    for ax in flat[:n]:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, flat[:n]


def show_images(images, labels: Sequence | None = None, ncols: int = 8, cmap: str = "gray",
                title: str | None = None, class_names: Sequence[str] | None = None) -> Figure:
    """A grid of images ``(N, 1, H, W)``, ``(N, 3, H, W)`` or ``(N, H, W)`` (tensor or array).

    labels: one per image, shown above it (ints are looked up in ``class_names`` if given).
    Images with values outside [0, 1] (standardised inputs) are rescaled together to [0, 1].
    """
    x = _numpy(images)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1, H, W), (N, 3, H, W) or (N, H, W); "
                         f"got shape {tuple(x.shape)}")
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"{len(x)} images but {len(labels)} labels")
    low, high = float(x.min()), float(x.max())
    if low < 0 or high > 1:
        x = (x - low) / max(high - low, 1e-12)
    fig, axes = _grid(len(x), ncols, cell_height=1.5 if labels is not None else 1.2,
                      extra_height=0.4 if title else 0.0)
    for i, ax in enumerate(axes):
        if x.shape[1] == 3:
            ax.imshow(np.clip(x[i].transpose(1, 2, 0), 0, 1))
        else:
            ax.imshow(x[i, 0], cmap=cmap, vmin=0, vmax=1)
        if labels is not None:
            label = labels[i]
            label = label.item() if isinstance(label, torch.Tensor) else label
            if class_names is not None and isinstance(label, int | np.integer):
                label = class_names[label]
            ax.set_title(str(label), fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_feature_maps(maps, ncols: int = 8, title: str | None = None,
                      cmap: str = "viridis") -> Figure:
    """Feature maps ``(C, H, W)`` (or ``(1, C, H, W)``) as a grid on ONE shared colour scale,
    so a weak channel looks weak; the colour bar is the figure's last axes."""
    x = _numpy(maps)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 3:
        raise ValueError(f"feature maps must be (C, H, W) or (1, C, H, W); got {tuple(x.shape)}")
    fig, axes = _grid(len(x), ncols, extra_height=0.4 if title else 0.0)
    low, high = float(x.min()), float(x.max())
    for i, ax in enumerate(axes):
        image = ax.imshow(x[i], cmap=cmap, vmin=low, vmax=high)
        ax.set_title(str(i), fontsize=7)
    fig.colorbar(image, ax=axes, shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def show_filters(weight, ncols: int = 8, title: str | None = None,
                 max_filters: int = 96) -> Figure:
    """Convolution weights ``(C_out, C_in, kh, kw)``: one image per filter.

    With 3 input channels each filter is drawn in colour (all filters scaled together to
    [0, 1], so 0.5 grey means a zero weight). Otherwise each ``(filter, input channel)``
    kernel is drawn on a shared blue-white-red scale centred on 0, one row per filter.
    Only the first ``max_filters`` filters are drawn.
    """
    w = _numpy(weight)
    if w.ndim != 4:
        raise ValueError(f"weight must be (C_out, C_in, kh, kw); got shape {tuple(w.shape)}")
    w = w[:max_filters]
    if w.shape[1] == 3:
        limit = max(float(np.abs(w).max()), 1e-12)
        rgb = (w / limit + 1) / 2
        fig, axes = _grid(len(w), ncols, extra_height=0.4 if title else 0.0)
        for i, ax in enumerate(axes):
            ax.imshow(rgb[i].transpose(1, 2, 0), interpolation="nearest")
    else:
        limit = max(float(np.abs(w).max()), 1e-12)
        kernels = w.reshape(-1, *w.shape[2:])
        fig, axes = _grid(len(kernels), w.shape[1] if w.shape[1] > 1 else ncols, cell=0.8,
                          extra_height=0.4 if title else 0.0)
        for i, ax in enumerate(axes):
            image = ax.imshow(kernels[i], cmap="RdBu_r", vmin=-limit, vmax=limit,
                              interpolation="nearest")
        fig.colorbar(image, ax=axes, shrink=0.8)
    if title:
        fig.suptitle(title)
    return fig


def _bar_label(row: LayerRow) -> str:
    return f"{row.name} ({row.type})" if row.name else row.type


def plot_layer_costs(table: LayerTable,
                     metrics: Sequence[str] = ("params", "macs", "activation_bytes"),
                     title: str | None = None, log: bool = False,
                     only: Callable[[LayerRow], bool] | None = None) -> Figure:
    """One bar chart per metric (stacked, sharing the x axis), one bar per layer.

    metrics: ``LayerRow`` fields: ``params``, ``trainable_params``, ``macs``,
             ``activation_bytes``; counts get K/M/G ticks, bytes KiB/MiB/GiB;
    log:     logarithmic y axes (layers with 0 then show no bar);
    only:    keep the rows for which ``only(row)`` is true, e.g.
             ``only=lambda r: r.type in ("Conv2d", "Linear")`` for a deep network.
    Each panel's title gives the metric's total over the whole table.
    """
    unknown = [m for m in metrics if m not in METRIC_LABELS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; choose from {list(METRIC_LABELS)}")
    rows = [r for r in table if only is None or only(r)]
    if not rows:
        raise ValueError("no layers to plot (the table is empty or `only` rejected every row)")
    width = min(max(6.0, 0.28 * len(rows) + 1.5), 24.0)
    label_size = 8 if len(rows) <= 40 else 6
    fig, axes = plt.subplots(len(metrics), 1, figsize=(width, 2.2 * len(metrics) + 1.2),
                             sharex=True, squeeze=False)
    plt.close(fig)  # returned, not shown by pyplot: see the module docstring
    axes = axes[:, 0]
    positions = np.arange(len(rows))
    for ax, metric in zip(axes, metrics, strict=True):
        values = [getattr(r, metric) for r in rows]
        fmt = human_bytes if metric == "activation_bytes" else human_count
        ax.bar(positions, values, color=CYCLE[0] if metric != "macs" else CYCLE[1])
        total = getattr(table, f"total_{metric}")
        ax.set_title(f"{METRIC_LABELS[metric]}: total {fmt(total)}", fontsize=10, loc="left")
        if log:
            ax.set_yscale("log", nonpositive="clip")
            if metric == "activation_bytes":
                ax.yaxis.set_major_locator(LogLocator(base=4))
        elif metric == "activation_bytes":
            ax.yaxis.set_major_locator(FixedLocator(_binary_ticks(max(values))))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos, fmt=fmt: fmt(v)))
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[-1].set_xticks(positions)
    axes[-1].set_xticklabels([_bar_label(r) for r in rows], rotation=90, fontsize=label_size)
    axes[-1].set_xlim(-0.6, len(rows) - 0.4)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_accuracy_vs_cost(costs, accuracies, sizes, names: Sequence[str], *, xlabel: str,
                          ylabel: str = "published ImageNet top-1 (%)",
                          front: Sequence[int] = (), log: bool = True, reverse: bool = False,
                          size_scale: float = 12.0, size_legend: Sequence[float] = (),
                          size_unit: str = "M parameters", title: str | None = None,
                          figsize: tuple[float, float] = (8.0, 5.0)) -> Figure:
    """Canziani-style scatter: one blob per model at (cost, accuracy), its area
    ``size_scale * sizes[i]`` points squared, its name beside it.

    Models whose accuracy is NaN (none published) are left out. front: indices, joined in the
    order given by a dashed line (the Pareto front); log: logarithmic x axis; reverse: larger
    x to the left (for a throughput, so that "better" is up and left as for a cost);
    size_legend: sizes to show as legend blobs, labelled ``f"{value:g}{size_unit}"`` (e.g.
    ``(5, 25, 100)`` with the default unit: "5M parameters", ...).
    """
    x, y, s = (np.asarray(v, dtype=float) for v in (costs, accuracies, sizes))
    if not len(x) == len(y) == len(s) == len(names):
        raise ValueError(f"got {len(x)} costs, {len(y)} accuracies, {len(s)} sizes and "
                         f"{len(names)} names; pass one of each per model")
    shown = ~np.isnan(y)
    fig, ax = plt.subplots(figsize=figsize)
    plt.close(fig)  # returned, not shown by pyplot: see the module docstring
    ax.scatter(x[shown], y[shown], s=size_scale * s[shown], alpha=0.35, color=OKABE_ITO["blue"],
               edgecolor=OKABE_ITO["blue"])
    ax.scatter(x[shown], y[shown], s=6, color=GREY_DARK)
    if len(front):
        front = list(front)
        ax.plot(x[front], y[front], "--", color=OKABE_ITO["vermillion"], lw=1.2,
                label="Pareto front")
    for i in np.flatnonzero(shown):
        ax.annotate(names[i], (x[i], y[i]), fontsize=8, xytext=(4, 4),
                    textcoords="offset points")
    for value in size_legend:
        ax.scatter([], [], s=size_scale * value, alpha=0.35, color=OKABE_ITO["blue"],
                   label=f"{value:g}{size_unit}")
    if log:
        ax.set_xscale("log")
    if reverse:
        ax.invert_xaxis()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    if len(front) or len(size_legend):
        ax.legend(loc="lower right", frameon=False, labelspacing=1.6 if len(size_legend) else 0.5)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig


def compare_filters(weights: Sequence, row_labels: Sequence[str],
                    title: str | None = None) -> Figure:
    """Sets of convolution filters ``(C_out, C_in, k, k)`` of the same shape, one row per set
    (for example the same layer at initialisation and after training), one panel per filter.

    With 3 input channels each filter is drawn in colour, scaled on its own so that grey is a
    zero weight; otherwise its first input channel is drawn in blue (negative) to red
    (positive) on one scale per row, centred on 0.
    """
    ws = [_numpy(w) for w in weights]
    if not ws or len(ws) != len(row_labels):
        raise ValueError(f"got {len(ws)} sets of filters and {len(row_labels)} row labels; "
                         "pass one label per set")
    if any(w.ndim != 4 or w.shape != ws[0].shape for w in ws):
        raise ValueError("every set must be (C_out, C_in, k, k) with the same shape; got "
                         f"{[tuple(w.shape) for w in ws]}")
    n, colour = ws[0].shape[0], ws[0].shape[1] == 3
    cell = 0.75 if colour else 1.0
    fig, axes = plt.subplots(len(ws), n, figsize=(cell * n, (cell + 0.15) * len(ws) + 0.4),
                             squeeze=False)
    plt.close(fig)  # returned, not shown by pyplot: see the module docstring
    for row, (w, label) in enumerate(zip(ws, row_labels, strict=True)):
        limit = max(float(np.abs(w[:, 0]).max()), 1e-12)
        for i, ax in enumerate(axes[row]):
            if colour:
                own = max(float(np.abs(w[i]).max()), 1e-12)
                ax.imshow(((w[i] / own + 1) / 2).transpose(1, 2, 0), interpolation="nearest")
            else:
                ax.imshow(w[i, 0], cmap="RdBu_r", vmin=-limit, vmax=limit,
                          interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def show_saliency(images, rows: Sequence[tuple[str, object]], title: str | None = None,
                  cmap: str = "hot") -> Figure:
    """The images ``(N, 1 or 3, H, W)`` in the top row, then one row of maps ``(N, H, W)``
    per ``(label, maps)`` pair (for example a trained and a random model's saliency).
    Each map is drawn on its own colour scale: a saliency map's size means little, only
    where it is large."""
    x = _numpy(images)
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must be (N, 1, H, W) or (N, 3, H, W); got {tuple(x.shape)}")
    maps = [(label, _numpy(m)) for label, m in rows]
    for label, m in maps:
        if m.shape != (x.shape[0], *x.shape[2:]):
            raise ValueError(f"maps {label!r} have shape {tuple(m.shape)}; expected "
                             f"{(x.shape[0], *x.shape[2:])}, one (H, W) map per image")
    n = len(x)
    fig, axes = plt.subplots(1 + len(maps), n,
                             figsize=(1.1 * n, 1.15 * (1 + len(maps)) + 0.3), squeeze=False)
    plt.close(fig)  # returned, not shown by pyplot: see the module docstring
    for i in range(n):
        if x.shape[1] == 3:
            axes[0, i].imshow(np.clip(x[i].transpose(1, 2, 0), 0, 1))
        else:
            axes[0, i].imshow(x[i, 0], cmap="gray")
        for r, (_, m) in enumerate(maps, start=1):
            axes[r, i].imshow(m[i], cmap=cmap)
    for r, label in enumerate(["image", *(label for label, _ in maps)]):
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
