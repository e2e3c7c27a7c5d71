"""Augmentation for the small bundled data: the digits moved by a pixel or two.

LeCun et al. (1998) lowered LeNet-5's test error by training on distorted copies of the
digits; a random shift is the simplest such distortion, and on 8,000 training digits it is
worth several tenths of a point.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def random_shift(images: torch.Tensor, pixels: int, generator: torch.Generator) -> torch.Tensor:
    """Move every image of ``images`` (N, 1, H, W) by a random whole number of pixels in
    [-pixels, pixels] along each axis; the background (the minimum) comes in at the edges."""
    n, _, height, width = images.shape
    padded = F.pad(images, (pixels,) * 4, value=float(images.min()))
    dy, dx = torch.randint(0, 2 * pixels + 1, (2, n, 1), generator=generator)
    rows = (torch.arange(height) + dy)[:, :, None]
    cols = (torch.arange(width) + dx)[:, None, :]
    return padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)
