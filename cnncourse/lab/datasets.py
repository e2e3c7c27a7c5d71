"""The lab's data sets by name, as uint8 tensors, and the batches the training loop reads.

- ``clutter10``: the generated CIFAR-10 stand-in (``cnncourse.data.clutter10``), the default;
- ``cifar10``: the real CIFAR-10 from ``$CNNCOURSE_DATA`` (never downloaded here);
- ``mnist``: the 10,000 MNIST digits bundled with the package.

Images stay uint8 in memory (CIFAR-sized float32 data would take 600 MB); ``batch`` turns a
batch into float32, standardises each channel with the training set's mean and standard
deviation, and, for training, applies He et al. (2016)'s augmentation: 4 pixels of padding,
a random 32x32 crop, a random horizontal flip, all drawn from the run's own generator.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from dataclasses import dataclass, replace

import torch

from cnncourse.lab.spec import LabError

DATA_SETS = ("clutter10", "cifar10", "mnist")
PAD = 4  # pixels of padding for the random crops

# ImageData.downsampled's last results: (its images, the smaller data) by the images' ids
_SHRUNK: OrderedDict[tuple[int, ...], tuple[tuple[torch.Tensor, ...], ImageData]] = OrderedDict()
_SHRUNK_KEPT = 4


@dataclass(frozen=True)
class ImageData:
    """A data set in memory: uint8 images ``(N, C, H, W)``, int64 labels, the training set's
    per-channel mean and standard deviation (in [0, 1] units), and the class names."""

    name: str
    classes: tuple[str, ...]
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor
    flips: bool = True  # mirror images are still the same class (not for digits)

    @property
    def channels(self) -> int:
        return self.train_x.shape[1]

    @property
    def size(self) -> int:
        return self.train_x.shape[-1]

    def head(self, n_train: int | None = None, n_test: int | None = None) -> ImageData:
        """The first ``n_train`` training and ``n_test`` test images (balanced prefixes for
        the generated set); the normalisation stays that of the full training set."""
        return replace(self, train_x=self.train_x[:n_train], train_y=self.train_y[:n_train],
                       test_x=self.test_x[:n_test], test_y=self.test_y[:n_test])

    def downsampled(self, factor: int) -> ImageData:
        """Every image shrunk ``factor`` times by averaging pixel blocks (a cheaper run);
        the statistics are recomputed. Made once per process for each set of tensors
        (``lab check`` and the chapters shrink the same 50,000 images for many runs)."""
        if factor == 1:
            return self
        sources = (self.train_x, self.test_x)
        key = (factor, *map(id, sources))
        if key in _SHRUNK and all(a is b for a, b in zip(_SHRUNK[key][0], sources, strict=True)):
            _SHRUNK.move_to_end(key)
            return replace(_SHRUNK[key][1], classes=self.classes, train_y=self.train_y,
                           test_y=self.test_y, flips=self.flips)

        def shrink(x: torch.Tensor) -> torch.Tensor:
            small = torch.nn.functional.avg_pool2d(x.to(torch.float32), factor)
            return torch.round(small).to(torch.uint8)

        train_x = shrink(self.train_x)
        mean, std = _stats(train_x)
        smaller = replace(self, train_x=train_x, test_x=shrink(self.test_x), mean=mean, std=std)
        _SHRUNK[key] = (sources, smaller)  # holding the sources keeps their ids unique
        if len(_SHRUNK) > _SHRUNK_KEPT:
            _SHRUNK.popitem(last=False)
        return smaller

    def classes_subset(self, keep: tuple[int, ...]) -> ImageData:
        """Only the classes ``keep``, relabelled 0, 1, ... in that order (for transfer)."""
        def select(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            mask = torch.isin(y, torch.tensor(keep))
            relabel = torch.full((int(y.max()) + 1,), -1, dtype=torch.int64)
            relabel[torch.tensor(keep)] = torch.arange(len(keep))
            return x[mask], relabel[y[mask]]

        train_x, train_y = select(self.train_x, self.train_y)
        test_x, test_y = select(self.test_x, self.test_y)
        return replace(self, classes=tuple(self.classes[k] for k in keep), train_x=train_x,
                       train_y=train_y, test_x=test_x, test_y=test_y)


def _stats(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    x = images.to(torch.float64) / 255.0
    return x.mean(dim=(0, 2, 3)).float(), x.std(dim=(0, 2, 3)).float()


def _as_uint8(images: torch.Tensor) -> torch.Tensor:
    return torch.round(images * 255.0).to(torch.uint8)


@functools.lru_cache(maxsize=2)
def load_data(name: str) -> ImageData:
    """A data set by name (made or read once per process)."""
    if name == "clutter10":
        from cnncourse.data.clutter10 import CLUTTER10_CLASSES, load_clutter10

        (train_x, train_y), (test_x, test_y) = load_clutter10("train"), load_clutter10("test")
        classes, flips = CLUTTER10_CLASSES, True
    elif name == "cifar10":
        from cnncourse.data.files import CIFAR10_CLASSES, DatasetNotFound, load_cifar10

        try:
            train_x, train_y = load_cifar10("train")
            test_x, test_y = load_cifar10("test")
        except DatasetNotFound:
            from cnncourse.data.files import data_root

            raise LabError(f"CIFAR-10 is not in {data_root()}/cifar-10-batches-py/ (the python "
                           "version's files; set CNNCOURSE_DATA to their parent folder)") from None
        train_x, test_x = _as_uint8(train_x), _as_uint8(test_x)
        classes, flips = CIFAR10_CLASSES, True
    elif name == "mnist":
        from cnncourse.data.mnist import load_mnist

        (train_x, train_y), (test_x, test_y) = load_mnist("train"), load_mnist("test")
        train_x, test_x = _as_uint8(train_x), _as_uint8(test_x)
        classes, flips = tuple(str(d) for d in range(10)), False
    else:
        raise LabError(f"unknown data set {name!r}; choose one of: {', '.join(DATA_SETS)}")
    mean, std = _stats(train_x)
    return ImageData(name, tuple(classes), train_x, train_y, test_x, test_y, mean, std, flips)


def batch(data: ImageData, images: torch.Tensor, augment: bool = False,
          generator: torch.Generator | None = None) -> torch.Tensor:
    """uint8 images -> standardised float32; with ``augment``, random crops and flips."""
    x = images.to(torch.float32).div_(255.0)
    x = (x - data.mean[:, None, None]) / data.std[:, None, None]
    if not augment:
        return x
    n, channels, height, width = x.shape
    padded = torch.nn.functional.pad(x, (PAD,) * 4)  # zeros: the mean colour, once standardised
    dy, dx = torch.randint(0, 2 * PAD + 1, (2, n), generator=generator)
    rows = (dy[:, None] + torch.arange(height))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(width))[:, None, None, :]
    x = padded[torch.arange(n)[:, None, None, None], torch.arange(channels)[None, :, None, None],
               rows, cols]
    if data.flips:
        flip = torch.rand(n, generator=generator) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(3), x)
    return x
