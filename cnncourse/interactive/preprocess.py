"""A drawing as an MNIST digit: the steps the book's "draw a digit" page runs in JavaScript
(``book/_static/interactive/preprocess.js``), in numpy, so the tests can hold one to the other.

1. ``mnist_style``: as NIST and LeCun et al. prepared every MNIST digit, the ink is fitted into
   a 20x20 box keeping its aspect ratio (area averaging: each new pixel is the mean of the old
   pixels it covers), and the box placed in a 28x28 field so that its centre of mass sits at
   the centre, moved by whole pixels. Without it a drawn digit has another size and place than
   the digits the network learned from.
2. ``to_network_input``: what ``load_mnist(size=32, normalize=True)`` does to a digit: two
   background pixels of padding on each side, then the training split's mean and standard
   deviation.
"""

from __future__ import annotations

import math

import numpy as np

BOX = 20
FIELD = 28


def _round_half_up(x: float) -> int:
    """``floor(x + 0.5)``, as the page rounds (Python's ``round`` sends halves to even)."""
    return math.floor(x + 0.5)


def area_weights(source: int, target: int) -> np.ndarray:
    """``(target, source)`` matrix averaging ``source`` cells into ``target`` cells."""
    a = source / target
    weights = np.zeros((target, source))
    for i in range(target):
        lo, hi = i * a, (i + 1) * a
        for j in range(math.floor(lo), min(source, math.ceil(hi))):
            overlap = min(hi, j + 1) - max(lo, j)
            if overlap > 0:
                weights[i, j] = overlap / a
    return weights


def mnist_style(ink: np.ndarray) -> np.ndarray | None:
    """A drawing's ink (``(height, width)``, values in [0, 1]) as a 28x28 MNIST-style digit,
    or ``None`` if nothing is drawn."""
    rows, cols = np.nonzero(ink > 0)
    if len(rows) == 0:
        return None
    crop = np.asarray(ink, dtype=np.float64)[rows.min():rows.max() + 1,
                                              cols.min():cols.max() + 1]
    ch, cw = crop.shape
    scale = BOX / max(ch, cw)
    th, tw = max(1, _round_half_up(ch * scale)), max(1, _round_half_up(cw * scale))
    box = area_weights(ch, th) @ crop @ area_weights(cw, tw).T
    mass = box.sum()
    centre_y = float((box.sum(axis=1) * (np.arange(th) + 0.5)).sum() / mass)
    centre_x = float((box.sum(axis=0) * (np.arange(tw) + 0.5)).sum() / mass)
    top = min(max(_round_half_up(FIELD / 2 - centre_y), 0), FIELD - th)
    left = min(max(_round_half_up(FIELD / 2 - centre_x), 0), FIELD - tw)
    image = np.zeros((FIELD, FIELD))
    image[top:top + th, left:left + tw] = box
    return image


def to_network_input(image28: np.ndarray, mean: float, std: float, pad: int = 2) -> np.ndarray:
    """28x28 in [0, 1] -> padded by ``pad`` background pixels a side, standardised."""
    return (np.pad(np.asarray(image28, dtype=np.float64), pad) - mean) / std
