"""Clutter-10, the generated CIFAR-10 stand-in: deterministic, the promised size and
variety, and (from the lab's stored runs) learnable by small CPU nets but far from saturated."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
import torch

from cnncourse.data.clutter10 import (
    CLUTTER10_CLASSES,
    SIZES,
    describe_clutter10,
    make_clutter10,
    to_float,
)

N = 1_000


@pytest.fixture(scope="module")
def sample() -> tuple[torch.Tensor, torch.Tensor]:
    return make_clutter10(N, "train")


def test_cifar_sized_uint8_images_and_balanced_labels(sample):
    images, labels = sample
    assert SIZES == {"train": 50_000, "test": 10_000}
    assert images.shape == (N, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.dtype == torch.int64 and len(CLUTTER10_CLASSES) == 10
    assert torch.bincount(labels).tolist() == [N // 10] * 10
    assert images.min() == 0 and images.max() == 255   # the full 8-bit range is used
    floats = to_float(images[:5])
    assert floats.dtype == torch.float32 and 0.0 <= floats.min() and floats.max() <= 1.0


def test_deterministic_prefix_consistent_and_split_apart(sample):
    images, labels = sample
    again, again_labels = make_clutter10(N, "train")
    assert torch.equal(images, again) and torch.equal(labels, again_labels)
    prefix, _ = make_clutter10(137, "train")
    assert torch.equal(prefix, images[:137])
    test_images, _ = make_clutter10(137, "test")
    other_seed, _ = make_clutter10(137, "train", seed=1)
    assert not torch.equal(test_images, prefix) and not torch.equal(other_seed, prefix)


def test_the_bytes_are_pinned(sample):
    """The stored lab results were made from these exact images: a change to the generator
    makes them stale (the replay in ``cnncourse lab check`` would notice too)."""
    digest = hashlib.sha256(sample[0][:500].numpy().tobytes()).hexdigest()
    assert digest.startswith("a06faecf53547ef7"), digest


def test_what_varies():
    """Several object scales and positions, any angle, clutter in most images, textures."""
    info = describe_clutter10(N)
    assert info["radius"].min() < 6 and info["radius"].max() > 12     # 2.6x in scale
    for axis in ("cx", "cy"):
        assert info[axis].min() < 8 and info[axis].max() > 24          # all over the frame
    assert np.ptp(info["angle"]) > 6.0
    assert (info["clutter_behind"] + info["clutter_front"] > 0).mean() > 0.8
    assert info["area"].min() > 15                                      # always visible
    images, _ = make_clutter10(200)
    spread = images.float().std(dim=(2, 3)).mean(dim=1)
    assert spread.min() > 10   # no flat image: textured backgrounds, an object, noise


def test_classes_differ_in_shape_not_in_colour():
    """Mean colour per class is the same up to sampling noise (about 8 levels of 255 apart
    at 500 images a class): colour carries no label."""
    images, labels = make_clutter10(5_000, "train")
    means = torch.stack([images[labels == c].float().mean(dim=(0, 2, 3)) for c in range(10)])
    assert (means.max(dim=0).values - means.min(dim=0).values).max() < 10


def test_generation_takes_seconds():
    start = time.perf_counter()
    make_clutter10(5_000, "test")
    assert time.perf_counter() - start < 20   # about 1.5 s per 5,000 on an idle core


def test_learnable_but_far_from_saturated():
    """From the lab's stored runs: small CPU nets get far above chance (90 % error), and the
    best of them is still far from MNIST's 99 %, so designs can differ."""
    from cnncourse import lab
    from cnncourse.lab.spec import LabError

    try:
        classic = lab.load("classic")
    except LabError as missing:  # as tests/test_lab.py does: a run not stored yet is skipped
        pytest.skip(f"not run yet: {missing}")
    best = min(classic.final(m, "test_error").mean() for m in ("alexnet", "vgg", "nin"))
    assert best < 0.5
    assert best > 0.03
