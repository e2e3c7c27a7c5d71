"""A synthetic RGB data set for CPU experiments: ten classes of shapes and textures.

The class is WHAT is drawn (a disk, a ring, stripes, ...); everything else is a nuisance the
network must learn to ignore: foreground and background colours, a background gradient,
position, scale, a small rotation and pixel noise. Images are rasterised with numpy from
signed distances on a coordinate grid (no PIL), with one pixel of anti-aliasing.

Example ``i`` is drawn from its own random stream ``(seed, split, i)``, so the data are
deterministic, ``make_shapes(1000)[0][:100]`` equals ``make_shapes(100)[0]``, and the train
and test splits never share a random stream.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from cnncourse.data.loaders import tensor_loader

SHAPE_CLASSES = (
    "disk", "ring", "square", "triangle", "plus",
    "diagonal line", "horizontal stripes", "vertical stripes", "checkerboard", "dots",
)
_SPLIT_STREAMS = {"train": 0, "test": 1}
_N_PARAMS = 16  # uniform draws per example, mapped to nuisances in _draw_params


def _draw_params(n: int, size: int, seed: int, stream: int) -> dict[str, np.ndarray]:
    """Labels and nuisance parameters, one independent random stream per example."""
    u = np.empty((n, _N_PARAMS))
    noise = np.empty((n, 3, size, size), dtype=np.float32)
    for i in range(n):
        rng = np.random.default_rng([seed, stream, i])
        u[i] = rng.random(_N_PARAMS)
        noise[i] = rng.standard_normal((3, size, size), dtype=np.float32)
    background = u[:, 0:3]
    # each foreground channel is 0.35..0.65 away from the background (mod 1): always visible
    foreground = (background + 0.35 + 0.3 * u[:, 3:6]) % 1.0
    diagonal = np.where(u[:, 12] < 0.5, np.pi / 4, 3 * np.pi / 4)
    return {
        "label": np.arange(n) % len(SHAPE_CLASSES),  # balanced in every prefix
        "background": background,
        "foreground": foreground,
        "gradient": 0.3 * (u[:, 6:8] - 0.5),  # background brightness slope across the image
        "cx": size * (0.3 + 0.4 * u[:, 8]),
        "cy": size * (0.3 + 0.4 * u[:, 9]),
        "radius": size * (0.16 + 0.10 * u[:, 10]),  # the largest shape stays inside
        "tilt": (u[:, 11] - 0.5) * np.pi / 6,  # +-15 degrees for shapes with a fixed pose
        "line_angle": diagonal + (u[:, 13] - 0.5) * np.pi / 6,
        "spin": u[:, 13] * 2 * np.pi,  # triangles may point anywhere
        "period": size / 32 * (4.0 + 3.0 * u[:, 14]),  # texture period in pixels
        "phase": u[:, 15],
        "noise_std": 0.03 + 0.04 * u[:, 12:13],
        "noise": noise,
    }


def _coverage(distance: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) -> coverage in [0, 1], anti-aliased over a pixel."""
    return np.clip(0.5 - distance, 0.0, 1.0)


def _masks(label: int, p: dict[str, np.ndarray], size: int) -> np.ndarray:
    """Foreground coverage ``(m, size, size)`` for ``m`` examples of one class."""
    grid = np.arange(size) + 0.5
    dx = grid[None, None, :] - p["cx"][:, None, None]
    dy = grid[None, :, None] - p["cy"][:, None, None]
    r = p["radius"][:, None, None]
    name = SHAPE_CLASSES[label]
    if name in ("square", "triangle", "plus"):
        angle = p["spin" if name == "triangle" else "tilt"][:, None, None]
        u = np.cos(angle) * dx + np.sin(angle) * dy  # coordinates in the shape's own frame
        v = -np.sin(angle) * dx + np.cos(angle) * dy
    if name.endswith("stripes") or name in ("checkerboard", "dots"):
        box = _coverage(np.maximum(np.abs(dx), np.abs(dy)) - r)  # the patch textures fill
        period = p["period"][:, None, None]
        phase = p["phase"][:, None, None]
        wave_x = np.sin(2 * np.pi * (dx / period + phase))
        wave_y = np.sin(2 * np.pi * (dy / period + phase))
    if name == "disk":
        return _coverage(np.hypot(dx, dy) - r)
    if name == "ring":
        return _coverage(np.abs(np.hypot(dx, dy) - 0.72 * r) - 0.22 * r)
    if name == "square":
        return _coverage(np.maximum(np.abs(u), np.abs(v)) - 0.85 * r)
    if name == "triangle":  # equilateral, inradius r/2: the max of three half-plane distances
        normals = [np.pi / 2 + k * 2 * np.pi / 3 for k in range(3)]
        edges = [np.cos(a) * u + np.sin(a) * v for a in normals]
        return _coverage(np.maximum.reduce(edges) - 0.5 * r)
    if name == "plus":
        arm = 0.28 * r
        return _coverage(np.minimum(np.maximum(np.abs(u) - r, np.abs(v) - arm),
                                    np.maximum(np.abs(u) - arm, np.abs(v) - r)))
    if name == "diagonal line":
        theta = p["line_angle"][:, None, None]
        along = np.cos(theta) * dx + np.sin(theta) * dy
        across = -np.sin(theta) * dx + np.cos(theta) * dy
        half_width = np.maximum(1.0, 0.18 * r)
        return _coverage(np.maximum(np.abs(across) - half_width, np.abs(along) - 1.1 * r))
    if name == "horizontal stripes":
        return box * np.clip(0.5 + 2.0 * wave_y, 0.0, 1.0)
    if name == "vertical stripes":
        return box * np.clip(0.5 + 2.0 * wave_x, 0.0, 1.0)
    if name == "checkerboard":
        return box * np.clip(0.5 + 3.0 * wave_x * wave_y, 0.0, 1.0)
    if name == "dots":  # distance to the nearest point of a square lattice
        gx = ((dx / period + phase) % 1.0 - 0.5) * period
        gy = ((dy / period + phase) % 1.0 - 0.5) * period
        return box * _coverage(np.hypot(gx, gy) - 0.3 * period)
    raise AssertionError(f"no drawing for class {name!r}")  # SHAPE_CLASSES and _masks disagree


def make_shapes(n: int, size: int = 32, seed: int = 0,
                split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` synthetic RGB images ``(n, 3, size, size)`` float32 in [0, 1] and labels int64.

    Labels cycle through the ten ``SHAPE_CLASSES`` (example ``i`` has class ``i % 10``), so
    every prefix is balanced; shuffle before training. The same ``(seed, split)`` always
    gives the same tensors; ``split="test"`` draws from different random streams than
    ``"train"`` for the same seed.
    """
    if n < 0 or size < 8:
        raise ValueError(f"need n >= 0 and size >= 8, got n={n}, size={size}")
    if split not in _SPLIT_STREAMS:
        raise ValueError(f"split={split!r} is not available; choose one of "
                         f"{list(_SPLIT_STREAMS)}")
    p = _draw_params(n, size, seed, _SPLIT_STREAMS[split])
    ramp = (np.arange(size) + 0.5) / size - 0.5
    shade = (p["gradient"][:, 0, None, None] * ramp[None, None, :]
             + p["gradient"][:, 1, None, None] * ramp[None, :, None])  # (n, size, size)
    mask = np.zeros((n, size, size), dtype=np.float32)
    for label in range(len(SHAPE_CLASSES)):
        members = np.flatnonzero(p["label"] == label)
        if len(members):
            mask[members] = _masks(label, {k: v[members] for k, v in p.items()}, size)
    # float32 and in place from here on: these arrays are the size of the whole data set
    images = p["noise"]
    images *= p["noise_std"][:, :, None, None].astype(np.float32)
    images += (p["background"][:, :, None, None] + shade[:, None]).astype(np.float32)
    images += mask[:, None] * (p["foreground"] - p["background"])[:, :, None, None].astype(
        np.float32)
    images -= mask[:, None] * shade[:, None].astype(np.float32)  # the shape is flat-coloured
    np.clip(images, 0.0, 1.0, out=images)
    return torch.from_numpy(images), torch.from_numpy(p["label"].astype(np.int64))


def shapes_loaders(n_train: int = 5000, n_test: int = 1000, batch_size: int = 128,
                   seed: int = 0, size: int = 32) -> tuple[DataLoader, DataLoader]:
    """``(train_loader, test_loader)`` over ``make_shapes``: the train split shuffled with a
    generator seeded by ``seed``, the test split (other random streams) in order."""
    train_x, train_y = make_shapes(n_train, size=size, seed=seed, split="train")
    test_x, test_y = make_shapes(n_test, size=size, seed=seed, split="test")
    train = tensor_loader(train_x, train_y, batch_size, shuffle=True, seed=seed)
    test = tensor_loader(test_x, test_y, batch_size, shuffle=False)
    return train, test
