"""Clutter-10: a generated stand-in for CIFAR-10 on which CNN designs differ.

Fifty thousand training and ten thousand test images, 32x32 RGB, ten classes, like CIFAR-10,
but generated from a seed in a few seconds: nothing to download, the same bytes everywhere.

The class is the SHAPE of one object (``CLUTTER10_CLASSES``). Everything else varies and
carries no information about the class, so a network has to learn shape, not colour:

- the object: its size (radius 5 to 13 pixels, so a factor of 2.6 in scale), position
  (anywhere that keeps most of it in the frame), rotation (any angle), two fill colours
  and the texture mixing them (a grating of random period and direction, or blotches);
- the background: two other colours mixed by its own texture, plus a brightness ramp;
- clutter: up to three small distractors (bars and blobs) behind the object and up to two
  in front of it, partly hiding it;
- pixel noise of random strength, then rounding to 8 bits, as in a photograph.

Pairs of classes differ only in a detail (a disk and a ring, a square and a square frame,
a disk and a star, a square and an L), which a network sees only with enough resolution
and a large enough receptive field; on the other hand there is no background context to
exploit, as there is in CIFAR-10.

Each block of 500 examples comes from its own random stream ``(seed, split, block)``: the
data are deterministic, ``make_clutter10(1000)[0][:100]`` equals ``make_clutter10(100)[0]``,
and the splits never share a stream. Images are uint8 (1/4 of the memory of float32: the training
set is 150 MB); ``to_float`` turns a batch into float32 in [0, 1].
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

CLUTTER10_CLASSES = (
    "disk", "ring", "square", "square frame", "triangle",
    "plus", "star", "crescent", "L-shape", "dumbbell",
)
SIZES = {"train": 50_000, "test": 10_000}  # CIFAR-10's split sizes
_SPLIT_STREAMS = {"train": 0, "test": 1}
_IMAGE = 32
_BLOTCH = 6          # blotch textures are random 6x6 fields, smoothly upsampled
_CLUTTER_BEHIND, _CLUTTER_FRONT = 3, 2
_N_UNIFORM = 69      # uniform draws per example, handed out to parameters in _render
_BLOCK = 500         # examples drawn and rendered together (one random stream a block)


def _draw(block: int, seed: int, stream: int) -> dict[str, np.ndarray]:
    """The random numbers of one block of ``_BLOCK`` examples, from the block's own stream:
    uniforms (handed out by ``_Columns``), two blotch fields and the pixel noise."""
    rng = np.random.default_rng([seed, stream, block])
    return {
        "u": rng.random((_BLOCK, _N_UNIFORM), dtype=np.float32),
        "blotches": rng.random((_BLOCK, 2, _BLOTCH, _BLOTCH), dtype=np.float32),
        "noise": rng.standard_normal((_BLOCK, 3, _IMAGE, _IMAGE), dtype=np.float32),
    }


@functools.cache
def _upsampler() -> np.ndarray:
    """(32, 6) matrix U: a 6x6 field B becomes the smooth 32x32 image U B U^T (bicubic)."""
    eye = torch.eye(_BLOTCH).reshape(_BLOTCH, 1, _BLOTCH, 1)
    columns = F.interpolate(eye, size=(_IMAGE, 1), mode="bicubic", align_corners=False)
    return columns.reshape(_BLOTCH, _IMAGE).T.contiguous().numpy()


def _coverage(distance: np.ndarray) -> np.ndarray:
    """Signed distance in pixels (negative inside) -> coverage in [0, 1], anti-aliased."""
    return np.clip(0.5 - distance, 0.0, 1.0).astype(np.float32)


def _hypot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sqrt(a^2 + b^2): several times faster than ``np.hypot``, and exact enough here."""
    return np.sqrt(a * a + b * b)


def _box(u: np.ndarray, v: np.ndarray, half_u, half_v) -> np.ndarray:
    """Signed distance to an axis-aligned rectangle centred at 0 (exact outside, close inside)."""
    du, dv = np.abs(u) - half_u, np.abs(v) - half_v
    outside = _hypot(np.maximum(du, 0), np.maximum(dv, 0))
    return outside + np.minimum(np.maximum(du, dv), 0)


def _shape_distance(label: int, u: np.ndarray, v: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Signed distance to class ``label``'s shape of radius ``r``, in its own frame (u, v)."""
    name = CLUTTER10_CLASSES[label]
    rho = _hypot(u, v)
    if name == "disk":
        return rho - r
    if name == "ring":
        return np.abs(rho - 0.72 * r) - 0.28 * r
    if name == "square":
        return _box(u, v, 0.8 * r, 0.8 * r)
    if name == "square frame":
        return np.abs(_box(u, v, 0.6 * r, 0.6 * r)) - 0.22 * r
    if name == "triangle":  # equilateral, pointing along u; half-planes at 120 degrees
        normals = [k * 2 * np.pi / 3 for k in range(3)]
        return np.maximum.reduce([np.cos(a) * u + np.sin(a) * v for a in normals]) - 0.5 * r
    if name == "plus":
        arm = 0.3 * r
        return np.minimum(_box(u, v, r, arm), _box(u, v, arm, r))
    if name == "star":  # five points: the radius swings between 0.45 r and r with the angle
        phi = np.arctan2(v, u)
        bound = r * (0.725 + 0.275 * np.cos(5 * phi))
        return (rho - bound) * 0.7  # not a true distance; the factor keeps the edge soft
    if name == "crescent":  # a disk with a disk bitten out of one side
        bite = _hypot(u - 0.45 * r, v) - 0.8 * r
        return np.maximum(rho - r, -bite)
    if name == "L-shape":  # two bars meeting at a corner, the corner at (-0.7r, -0.7r)
        arm = 0.28 * r
        lower = _box(u, v + 0.7 * r - arm, 0.85 * r, arm)
        left = _box(u + 0.7 * r - arm, v, arm, 0.85 * r)
        return np.minimum(lower, left)
    if name == "dumbbell":  # two disks joined by a bar
        ends = np.minimum(_hypot(u - 0.6 * r, v), _hypot(u + 0.6 * r, v)) - 0.4 * r
        return np.minimum(ends, _box(u, v, 0.6 * r, 0.12 * r))
    raise AssertionError(f"no drawing for class {name!r}")  # the tuple and this disagree


def _texture(u: np.ndarray, blotch: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A texture in [0, 1] per example: a grating (period 3 to 10 px, any direction, soft or
    hard edged) mixed with smooth blotches by a random weight. ``u``: (m, 5) uniforms."""
    angle = (u[:, 0] * np.pi)[:, None, None]
    period = (3.0 + 7.0 * u[:, 1])[:, None, None]
    phase = u[:, 2][:, None, None]
    wave = np.sin(2 * np.pi * ((np.cos(angle) * x + np.sin(angle) * y) / period + phase))
    sharp = (1.0 + 6.0 * u[:, 3])[:, None, None]  # 1: a sine, 7: nearly square stripes
    grating = 0.5 + 0.5 * np.tanh(sharp * wave) / np.tanh(sharp)
    up = _upsampler()
    smooth = np.clip(up @ blotch @ up.T, 0.0, 1.0)  # (m, 32, 32)
    weight = u[:, 4][:, None, None]
    return (weight * grating + (1 - weight) * smooth).astype(np.float32)


class _Columns:
    """Hands out consecutive columns of the per-example uniforms, so each parameter has its
    own draws and adding one never shifts the others' meaning by accident."""

    def __init__(self, u: np.ndarray) -> None:
        self.u, self.next = u, 0

    def __call__(self, k: int) -> np.ndarray:
        block = self.u[:, self.next:self.next + k]
        self.next += k
        if self.next > self.u.shape[1]:
            raise AssertionError("_N_UNIFORM is too small for _render's draws")
        return block.astype(np.float32)


def _paint_clutter(image: np.ndarray, take: _Columns, count: int, x: np.ndarray,
                   y: np.ndarray) -> np.ndarray:
    """Small bars and blobs of random colour painted over ``image`` in place; each of the
    ``count`` slots is filled with probability 0.6. Returns how many each image got."""
    painted = np.zeros(len(image), dtype=np.int64)
    for _ in range(count):
        present, position, angle, size, colour = take(1), take(2), take(1), take(1), take(3)
        cx = (position[:, 0] * _IMAGE)[:, None, None]
        cy = (position[:, 1] * _IMAGE)[:, None, None]
        theta = (angle[:, 0] * np.pi)[:, None, None]
        a = np.cos(theta) * (x - cx) + np.sin(theta) * (y - cy)
        b = -np.sin(theta) * (x - cx) + np.cos(theta) * (y - cy)
        half = (1.5 + 3.0 * size[:, 0])[:, None, None]
        bar = (size[:, 0] < 0.5)[:, None, None]  # the smaller half are thin bars, the rest blobs
        distance = np.where(bar, _box(a, b, 2.5 * half, 0.7), _hypot(a, b) - half)
        mask = _coverage(distance) * (present[:, 0] < 0.6)[:, None, None]
        image += mask[:, None] * (colour[:, :, None, None] - image)
        painted += present[:, 0] < 0.6
    return painted


def _render(draws: dict[str, np.ndarray], labels: np.ndarray,
            info: dict[str, np.ndarray] | None = None) -> np.ndarray:
    """Images (m, 3, 32, 32) float32 in [0, 1] from the draws of m examples; ``info``, if
    given, receives what varies per image (see ``describe_clutter10``)."""
    take, m = _Columns(draws["u"]), len(labels)
    grid = np.arange(_IMAGE, dtype=np.float32) + 0.5
    x, y = grid[None, None, :], grid[None, :, None]  # broadcast: (1, 1, 32) and (1, 32, 1)

    # background: two colours mixed by a texture, and a brightness ramp across the frame
    back_a, back_b = take(3), take(3)
    back_t = _texture(take(5), draws["blotches"][:, 0], x, y)
    image = back_a[:, :, None, None] + (back_b - back_a)[:, :, None, None] * back_t[:, None]
    ramp = 0.3 * (take(2) - 0.5)
    image += (ramp[:, 0, None, None] * (x / _IMAGE - 0.5)
              + ramp[:, 1, None, None] * (y / _IMAGE - 0.5))[:, None]
    behind = _paint_clutter(image, take, _CLUTTER_BEHIND, x, y)

    # the object: the class's shape at a random size, place and angle
    radius = 5.0 + 8.0 * take(1)[:, 0]
    margin = 0.75 * radius  # at most a quarter of the radius may leave the frame
    place = take(2)
    cx = (margin + place[:, 0] * (_IMAGE - 2 * margin))[:, None, None]
    cy = (margin + place[:, 1] * (_IMAGE - 2 * margin))[:, None, None]
    angle = (take(1)[:, 0] * 2 * np.pi)[:, None, None]
    ou = np.cos(angle) * (x - cx) + np.sin(angle) * (y - cy)
    ov = -np.sin(angle) * (x - cx) + np.cos(angle) * (y - cy)
    mask = np.zeros((m, _IMAGE, _IMAGE), dtype=np.float32)
    for label in range(len(CLUTTER10_CLASSES)):
        members = np.flatnonzero(labels == label)
        if len(members):
            d = _shape_distance(label, ou[members], ov[members], radius[members, None, None])
            mask[members] = _coverage(d)
    # its fill: the first colour is 0.3 to 0.7 away from the background's mean in every
    # channel (mod 1), so the object stands out; the second is near the first; a texture
    # of its own mixes them
    fill_a = ((back_a + back_b) / 2 + 0.3 + 0.4 * take(3)) % 1.0
    fill_b = fill_a + 0.6 * (take(3) - 0.5)
    fill_t = _texture(take(5), draws["blotches"][:, 1], x, y)
    fill = fill_a[:, :, None, None] + (fill_b - fill_a)[:, :, None, None] * fill_t[:, None]
    image += mask[:, None] * (fill - image)

    front = _paint_clutter(image, take, _CLUTTER_FRONT, x, y)
    noise_std = 0.02 + 0.06 * take(1)[:, 0]
    image += noise_std[:, None, None, None] * draws["noise"]
    if info is not None:
        info.update(radius=radius, cx=cx[:, 0, 0], cy=cy[:, 0, 0], angle=angle[:, 0, 0],
                    area=mask.sum(axis=(1, 2)), clutter_behind=behind, clutter_front=front,
                    noise_std=noise_std)
    return np.clip(image, 0.0, 1.0)


def make_clutter10(n: int | None = None, split: str = "train",
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of ``split`` (all of it by default: 50,000 train or 10,000 test) as
    uint8 ``(n, 3, 32, 32)`` and int64 labels ``(n,)``.

    Labels cycle through the ten classes (example ``i`` has class ``i % 10``), so every
    prefix is balanced; shuffle before training. Generation takes about a second per 10,000
    images; ``load_clutter10`` keeps the full splits in memory.
    """
    if split not in _SPLIT_STREAMS:
        raise ValueError(f"split={split!r} is not available; choose one of "
                         f"{list(_SPLIT_STREAMS)}")
    n = SIZES[split] if n is None else n
    if n < 0:
        raise ValueError(f"need n >= 0, got {n}")
    labels = np.arange(n) % len(CLUTTER10_CLASSES)
    images = np.empty((n, 3, _IMAGE, _IMAGE), dtype=np.uint8)
    for block, start in enumerate(range(0, n, _BLOCK)):
        stop = min(n, start + _BLOCK)
        draws = _draw(block, seed, _SPLIT_STREAMS[split])  # always a whole block: prefixes agree
        rendered = _render(draws, np.arange(start, start + _BLOCK) % len(CLUTTER10_CLASSES))
        images[start:stop] = np.rint(rendered[:stop - start] * 255.0).astype(np.uint8)
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


def describe_clutter10(n: int, split: str = "train", seed: int = 0) -> dict[str, np.ndarray]:
    """What varies in the first ``n`` images of ``make_clutter10(n, split, seed)``, per image:
    the object's ``radius``, centre (``cx``, ``cy``) and ``angle``, its ``area`` in pixels,
    the distractors painted behind and in front of it, the pixel noise's ``noise_std``."""
    if split not in _SPLIT_STREAMS:
        raise ValueError(f"split={split!r} is not available; choose one of "
                         f"{list(_SPLIT_STREAMS)}")
    parts: list[dict[str, np.ndarray]] = []
    for block, start in enumerate(range(0, n, _BLOCK)):
        info: dict[str, np.ndarray] = {}
        _render(_draw(block, seed, _SPLIT_STREAMS[split]),
                np.arange(start, start + _BLOCK) % len(CLUTTER10_CLASSES), info)
        parts.append({k: v[:min(n, start + _BLOCK) - start] for k, v in info.items()})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}


@functools.lru_cache(maxsize=4)
def load_clutter10(split: str = "train", seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """The full ``split`` of ``make_clutter10`` (uint8 images, labels), made once per process.

    The tensors are shared between callers: do not modify them in place."""
    return make_clutter10(None, split, seed)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 images -> float32 in [0, 1]."""
    return images.to(torch.float32).div_(255.0)
