"""Data for CPU experiments: the bundled MNIST subset, synthetic shapes, full data sets on disk.

- ``load_mnist`` / ``mnist_loaders``: 10,000 real MNIST digits shipped with the package
  (8,000 train / 2,000 test, fixed and stratified);
- ``make_shapes`` / ``shapes_loaders``: a generated 10-class RGB data set (``SHAPE_CLASSES``);
- ``load_full_mnist`` / ``load_cifar10``: the full data sets from ``data_root()``
  (``$CNNCOURSE_DATA`` or ``~/.cache/cnncourse``); missing files raise ``DatasetNotFound``.
"""

from cnncourse.data.files import (
    CIFAR10_CLASSES,
    DatasetNotFound,
    data_root,
    load_cifar10,
    load_full_mnist,
    read_idx,
)
from cnncourse.data.loaders import tensor_loader
from cnncourse.data.mnist import ChecksumError, load_mnist, mnist_loaders, mnist_mean_std
from cnncourse.data.shapes import SHAPE_CLASSES, make_shapes, shapes_loaders

__all__ = [
    "CIFAR10_CLASSES",
    "SHAPE_CLASSES",
    "ChecksumError",
    "DatasetNotFound",
    "data_root",
    "load_cifar10",
    "load_full_mnist",
    "load_mnist",
    "make_shapes",
    "mnist_loaders",
    "mnist_mean_std",
    "read_idx",
    "shapes_loaders",
    "tensor_loader",
]
