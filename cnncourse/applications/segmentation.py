"""Semantic segmentation with a fully convolutional network, on generated scenes.

Long, Shelhamer and Darrell (2015), "Fully convolutional networks for semantic segmentation"
(arXiv:1411.4038) label every pixel with a network that has no fully connected layer: it
down-samples to see context, up-samples back to the input size with learned transposed
convolutions, and adds skip connections from the high-resolution layers so that edges stay
sharp. U-Net (Ronneberger et al. 2015, arXiv:1505.04597) concatenates the skips instead of
adding them; ``TinyFCN`` does that, at a size that trains in seconds on a CPU.

The scenes (``make_scenes``): 1 to 3 disks and squares of random colour and size on a noisy
background of random colour; the label of a pixel is background (0), disk (1) or square (2).
Colour says nothing about the class: only the shape does.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

SCENE_CLASSES = ("background", "disk", "square")


def make_scenes(n: int, size: int = 32, seed: int = 0,
                radius: tuple[float, float] = (0.12, 0.25)) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` RGB scenes ``(n, 3, size, size)`` in [0, 1] and their masks ``(n, size, size)``
    (int64 class per pixel, ``SCENE_CLASSES``). Object radii are drawn uniformly from
    ``radius`` (fractions of ``size``); later objects are drawn over earlier ones."""
    rng = np.random.default_rng(seed)
    grid = np.arange(size) + 0.5
    gy, gx = np.meshgrid(grid, grid, indexing="ij")
    images = np.empty((n, 3, size, size), dtype=np.float32)
    masks = np.zeros((n, size, size), dtype=np.int64)
    for i in range(n):
        images[i] = rng.uniform(0, 1, (3, 1, 1)) + rng.normal(0, 0.08, (3, size, size))
        for _ in range(rng.integers(1, 4)):
            kind = rng.integers(1, 3)
            r = rng.uniform(*radius) * size
            cx, cy = rng.uniform(r, size - r, 2)
            if kind == 1:
                inside = np.hypot(gx - cx, gy - cy) <= r
            else:  # a square of about a disk's area
                inside = np.maximum(abs(gx - cx), abs(gy - cy)) <= r * 0.85
            images[i][:, inside] = rng.uniform(0, 1, (3, 1))
            masks[i][inside] = kind
    return torch.from_numpy(np.clip(images, 0, 1)), torch.from_numpy(masks)


def _double_conv(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
        nn.Conv2d(out_channels, out_channels, 3, padding=1), nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True))


class TinyFCN(nn.Module):
    """Encoder (two 2x down-samplings), decoder (two learned 2x up-samplings), U-Net
    skips, and a 1x1 convolution giving one score per class and pixel. Any input whose
    sides are multiples of 4 works: there is no fully connected layer."""

    def __init__(self, in_channels: int = 3, num_classes: int = len(SCENE_CLASSES),
                 width: int = 16) -> None:
        super().__init__()
        self.enc1 = _double_conv(in_channels, width)
        self.enc2 = _double_conv(width, 2 * width)
        self.bottom = _double_conv(2 * width, 4 * width)
        self.pool = nn.MaxPool2d(2)
        self.up2 = nn.ConvTranspose2d(4 * width, 2 * width, kernel_size=2, stride=2)
        self.dec2 = _double_conv(4 * width, 2 * width)
        self.up1 = nn.ConvTranspose2d(2 * width, width, kernel_size=2, stride=2)
        self.dec1 = _double_conv(2 * width, width)
        self.classifier = nn.Conv2d(width, num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e1 = self.enc1(x)                                    # (N, w, H, W)
        e2 = self.enc2(self.pool(e1))                        # (N, 2w, H/2, W/2)
        b = self.bottom(self.pool(e2))                       # (N, 4w, H/4, W/4)
        d2 = self.dec2(torch.cat([self.up2(b), e2], 1))      # (N, 2w, H/2, W/2)
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))     # (N, w, H, W)
        return self.classifier(d1)                           # (N, classes, H, W)


def pixel_accuracy(logits: torch.Tensor, masks: torch.Tensor) -> float:
    """Fraction of pixels whose highest-scoring class is the true one."""
    return (logits.argmax(1) == masks).float().mean().item()


def mean_iou(logits: torch.Tensor, masks: torch.Tensor, num_classes: int) -> float:
    """Intersection over union per class, averaged over the classes present in either the
    prediction or the truth (a class absent from both is skipped, not counted as 1)."""
    predicted = logits.argmax(1)
    ious = []
    for c in range(num_classes):
        union = ((predicted == c) | (masks == c)).sum().item()
        if union:
            ious.append(((predicted == c) & (masks == c)).sum().item() / union)
    return float(np.mean(ious))
