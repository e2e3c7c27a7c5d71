"""A small Neocognitron: S-layers learned without labels, C-layers that tolerate shifts.

K. Fukushima, "Neocognitron: a self-organizing neural network model for a mechanism of pattern
recognition unaffected by shift in position", Biological Cybernetics 36, 193-202, 1980.

The network alternates two kinds of layers, U0 -> US1 -> UC1 -> US2 -> UC2:

* an **S-layer** (simple cells) holds planes of cells that all look for the same feature at
  different positions (a convolution). A cell's excitation is divided by the strength of its
  whole input patch (the paper's inhibitory V-cell), so it measures how well the patch
  matches its feature (cosine similarity). It fires only above a threshold (its selectivity):
  ``s = max(0, (cos - theta) / (1 - theta))``;
* a **C-layer** (complex cells) blurs each S-plane over a small neighbourhood and samples it
  at half the resolution, then saturates (``c / (1 + c)``): a C-cell stays on when its
  feature moves a little. Stacking the pairs builds tolerance to larger shifts.

S-layers learn by competition, without a teacher: patches are shown one batch at a time, the
plane whose filter matches a patch best (the winner) takes it, and only winners move their
filters towards the patches they won (``winner_take_all_step``). Nothing is learned in the
C-layers.

Faithful in spirit, simplified in detail (and why): cosine similarity stands in for the
paper's shunting inhibition ``(1 + e) / (1 + b v) - 1``, which behaves the same way near the
threshold and is a one-line operation; competition is global over a batch of patches rather
than inside each column of cells, so learning takes seconds; the configuration
(``NEOCOGNITRON_STAGES``) is sized for 28x28 MNIST digits, not the paper's 16x16 patterns with
24 planes per layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.models._registry import register_model


@dataclass(frozen=True)
class Stage:
    """One S-layer / C-layer pair: ``planes`` features of ``kernel`` x ``kernel`` inputs fired
    above ``threshold``, then a ``blur`` x ``blur`` C-layer with stride 2."""

    planes: int
    kernel: int
    threshold: float
    blur: int = 3


NEOCOGNITRON_STAGES: tuple[Stage, ...] = (
    Stage(planes=8, kernel=5, threshold=0.5),   # US1: strokes of different orientations
    Stage(planes=16, kernel=5, threshold=0.4),  # US2: combinations of strokes
)


class SLayer(nn.Module):
    """Feature-extracting cells: thresholded cosine similarity between each input patch and
    each plane's unit-norm filter. The filters are learned by ``winner_take_all_step``, not by
    gradient descent, so they are parameters without gradients."""

    def __init__(self, in_planes: int, planes: int, kernel: int, threshold: float) -> None:
        super().__init__()
        self.kernel = kernel
        self.threshold = threshold
        weight = torch.randn(planes, in_planes, kernel, kernel)
        self.weight = nn.Parameter(_unit_norm(weight), requires_grad=False)
        self.register_buffer("window", torch.ones(1, in_planes, kernel, kernel))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = self.kernel // 2
        excitation = F.conv2d(x, self.weight, padding=pad)                # w . patch
        patch_norm = F.conv2d(x.pow(2), self.window, padding=pad).sqrt()  # the V-cell
        cosine = excitation / (patch_norm + 1e-6)
        return F.relu(cosine - self.threshold) / (1 - self.threshold)

    def patches(self, x: torch.Tensor) -> torch.Tensor:
        """Every input patch this layer sees, one per row: ``(N * H * W, in_planes * k * k)``."""
        cols = F.unfold(x, self.kernel, padding=self.kernel // 2)         # (N, D, H*W)
        return cols.transpose(1, 2).reshape(-1, cols.shape[1])


class CLayer(nn.Module):
    """Shift-tolerating cells: a fixed blur of each plane, sampled with stride 2,
    saturated."""

    def __init__(self, blur: int = 3, stride: int = 2) -> None:
        super().__init__()
        self.blur = blur
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = F.avg_pool2d(x, self.blur, self.stride, padding=self.blur // 2,
                              count_include_pad=False)
        return pooled / (1 + pooled)


class Neocognitron(nn.Module):
    """U0 -> US1 -> UC1 -> US2 -> UC2 ... built from a list of ``Stage`` rows."""

    def __init__(self, stages: Sequence[Stage] = NEOCOGNITRON_STAGES, in_planes: int = 1) -> None:
        super().__init__()
        self.stages = tuple(stages)
        layers: list[nn.Module] = []
        for stage in self.stages:
            layers.append(SLayer(in_planes, stage.planes, stage.kernel, stage.threshold))
            layers.append(CLayer(stage.blur))
            in_planes = stage.planes
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:   # (N, 1, 28, 28) -> (N, 8, 14, 14) -> (N, 16, 7, 7)
            x = layer(x)
        return x

    def s_layers(self) -> list[SLayer]:
        return [layer for layer in self.layers if isinstance(layer, SLayer)]

    def responses(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The output of every layer, in order (US1, UC1, US2, UC2, ...)."""
        outputs = []
        for layer in self.layers:
            x = layer(x)
            outputs.append(x)
        return outputs


def _unit_norm(weight: torch.Tensor) -> torch.Tensor:
    flat = weight.reshape(weight.shape[0], -1)
    return (flat / flat.norm(dim=1, keepdim=True).clamp_min(1e-12)).reshape(weight.shape)


def winner_take_all_step(weight: torch.Tensor, patches: torch.Tensor,
                         rate: float) -> torch.Tensor:
    """One competitive-learning step on a batch of patches; returns how often each
    plane won.

    Each (unit-normalised) patch goes to the plane whose filter matches it best; each
    winning plane moves its filter ``rate`` of the way towards the mean of the patches
    it won, then is renormalised. Planes that won nothing keep their filter. ``weight``
    is updated in place.
    """
    flat = weight.reshape(weight.shape[0], -1)
    unit = patches / patches.norm(dim=1, keepdim=True).clamp_min(1e-12)
    winners = (unit @ flat.T).argmax(dim=1)
    wins = torch.bincount(winners, minlength=flat.shape[0])
    sums = torch.zeros_like(flat).index_add_(0, winners, unit)
    won = wins > 0
    target = sums[won] / wins[won].unsqueeze(1)
    flat[won] += rate * (target - flat[won])
    weight.copy_(_unit_norm(flat).reshape(weight.shape))
    return wins


@torch.no_grad()
def train_neocognitron(model: Neocognitron, images: torch.Tensor, steps: int = 60,
                       batch_patches: int = 2048, rate: float = 0.5,
                       seed: int = 0) -> list[torch.Tensor]:
    """Train the S-layers one after the other, without labels, on ``images`` (N, 1, H, W).

    Each S-layer starts from filters copied from random patches of its input (so every plane
    begins as a real feature), then takes ``steps`` winner-take-all steps on batches of
    ``batch_patches`` patches, drawn from the stronger half of the patches that are not
    blank (norm at least the median of the non-zero norms: background teaches nothing). The
    rate decays linearly to zero. Returns, per S-layer, how many patches each plane won in
    its last step.
    """
    gen = torch.Generator().manual_seed(seed)
    last_wins = []
    x = images
    for layer in model.layers:
        if isinstance(layer, SLayer):
            pool = layer.patches(x)
            norms = pool.norm(dim=1)
            if int((norms > 0).sum()) < 2 * layer.weight.shape[0]:
                raise ValueError(f"too few non-blank patches ({int((norms > 0).sum())}) to "
                                 f"train {layer.weight.shape[0]} planes: pass more images")
            pool = pool[norms >= norms[norms > 0].median()]
            start = pool[torch.randperm(len(pool), generator=gen)[:layer.weight.shape[0]]]
            layer.weight.copy_(_unit_norm(start.reshape(layer.weight.shape)))
            for step in range(steps):
                batch = pool[torch.randint(len(pool), (batch_patches,), generator=gen)]
                wins = winner_take_all_step(layer.weight, batch, rate * (1 - step / steps))
            last_wins.append(wins)
        x = layer(x)
    return last_wins


@register_model
def neocognitron() -> Neocognitron:
    """The course's two-stage Neocognitron for 28x28 digits (untrained: see
    ``train_neocognitron``)."""
    return Neocognitron(NEOCOGNITRON_STAGES)
