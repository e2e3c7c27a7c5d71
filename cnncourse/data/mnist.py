"""The bundled MNIST subset: 10,000 real digits with a fixed, stratified train/test split.

The split never changes (its seed is a constant), so every number the book computes on it is
reproducible: 200 test digits per class (2,000) and the remaining 8,000 for training. Each
split is in a fixed shuffled order, so ``images[:1000]`` is a mixed sample, not all zeros.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from cnncourse.data.loaders import tensor_loader

BUNDLED_FILE = Path(__file__).with_name("mnist10k.npz")
BUNDLED_SHA256 = "0217e13bd0668deb198aa7d305edbf0331eb89f8a6e7dd226e03d1aa3a9bd4ef"
TEST_PER_CLASS = 200
SPLIT_SEED = 1998  # fixed for good: changing it changes every accuracy the book reports
SPLITS = ("train", "test", "all")
SIZES = (28, 32)  # 32 = 28 padded by 2 pixels a side, LeNet-5's input


class ChecksumError(RuntimeError):
    """A data file's content is not what the package shipped."""


@functools.cache
def _bundled_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The raw uint8 images and labels, checked against the shipped sha256 once per process."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != BUNDLED_SHA256:
        raise ChecksumError(
            f"{path} is damaged or was replaced: its sha256 is {digest}, expected "
            f"{BUNDLED_SHA256}. Reinstall cnncourse (pip install -e . in the course folder) "
            f"to restore the bundled file."
        )
    with np.load(path) as data:
        return data["images"], data["labels"].astype(np.int64)


@functools.cache
def _split_indices(path: Path) -> dict[str, np.ndarray]:
    """Indices of each split: per class, a seeded permutation; its first 200 go to test."""
    _, labels = _bundled_arrays(path)
    rng = np.random.default_rng(SPLIT_SEED)
    train, test = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        test.append(members[:TEST_PER_CLASS])
        train.append(members[TEST_PER_CLASS:])
    return {
        "train": rng.permutation(np.concatenate(train)),
        "test": rng.permutation(np.concatenate(test)),
        "all": np.arange(len(labels)),
    }


def _check_choice(name: str, value, valid) -> None:
    if value not in valid:
        raise ValueError(f"{name}={value!r} is not available; choose one of {list(valid)}")


def mnist_mean_std() -> tuple[float, float]:
    """Mean and standard deviation of the training split's pixels (28x28, in [0, 1])."""
    return _mean_std(BUNDLED_FILE)


@functools.cache
def _mean_std(path: Path) -> tuple[float, float]:
    images, _ = _bundled_arrays(path)
    pixels = images[_split_indices(path)["train"]].astype(np.float64) / 255.0
    return float(pixels.mean()), float(pixels.std())


def load_mnist(split: str = "train", size: int = 28,
               normalize: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``(N, 1, size, size)`` float32 and labels ``(N,)`` int64 of the bundled subset.

    split:     ``"train"`` (8,000 digits), ``"test"`` (2,000: 200 a class) or ``"all"``
               (10,000, in the file's order, which is sorted by digit);
    size:      28, or 32 to pad 2 background pixels on each side (LeNet-5's input);
    normalize: ``False`` gives pixels in [0, 1]; ``True`` subtracts the training split's mean
               and divides by its standard deviation (``mnist_mean_std()``), after padding.
    """
    _check_choice("split", split, SPLITS)
    _check_choice("size", size, SIZES)
    images, labels = _bundled_arrays(BUNDLED_FILE)
    index = _split_indices(BUNDLED_FILE)[split]
    x = torch.from_numpy(images[index]).float().div_(255.0).unsqueeze(1)
    if size == 32:
        x = F.pad(x, (2, 2, 2, 2))
    if normalize:
        mean, std = mnist_mean_std()
        x = (x - mean) / std
    return x, torch.from_numpy(labels[index])


def mnist_loaders(batch_size: int = 128, size: int = 28, seed: int = 0, normalize: bool = False,
                  n_train: int | None = None,
                  n_test: int | None = None) -> tuple[DataLoader, DataLoader]:
    """``(train_loader, test_loader)`` over the bundled subset.

    The training loader reshuffles every epoch from a generator seeded with ``seed``; the
    test loader keeps its order. ``n_train`` / ``n_test`` keep only the first digits of each
    split (the splits are already shuffled, so these are class-mixed samples) when a chapter
    needs to train in seconds.
    """
    train_x, train_y = load_mnist("train", size=size, normalize=normalize)
    test_x, test_y = load_mnist("test", size=size, normalize=normalize)
    train = tensor_loader(train_x[:n_train], train_y[:n_train], batch_size, shuffle=True,
                          seed=seed)
    test = tensor_loader(test_x[:n_test], test_y[:n_test], batch_size, shuffle=False)
    return train, test
