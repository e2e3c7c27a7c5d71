"""Full MNIST and CIFAR-10 read from a local folder; downloaded only when asked.

The folder is ``data_root()``: ``$CNNCOURSE_DATA`` if set, else ``~/.cache/cnncourse``.

    <root>/mnist/train-images-idx3-ubyte[.gz]   train-labels-idx1-ubyte[.gz]
    <root>/mnist/t10k-images-idx3-ubyte[.gz]    t10k-labels-idx1-ubyte[.gz]
    <root>/cifar-10-batches-py/data_batch_1 ... data_batch_5, test_batch

When files are missing a ``DatasetNotFound`` error says which, where they go and where to
get them. ``download=True`` fetches them from the official mirrors and checks their MD5
(the checksums the data sets' pages and torchvision publish).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import pickle
import shutil
import tarfile
import urllib.request
from pathlib import Path

import numpy as np
import torch

ENV_VAR = "CNNCOURSE_DATA"

MNIST_FOLDER = "mnist"
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
MNIST_PAGE = "http://yann.lecun.com/exdb/mnist/"
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", MNIST_PAGE)
MNIST_GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_FILES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
CIFAR10_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
CIFAR10_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")

_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_TIMEOUT_SECONDS = 30


class DatasetNotFound(FileNotFoundError):
    """A data set's files are not in the data folder (the message says what to do)."""


def data_root() -> Path:
    """The folder holding the full data sets: ``$CNNCOURSE_DATA`` or ``~/.cache/cnncourse``."""
    configured = os.environ.get(ENV_VAR)
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "cnncourse"


def _check_split(split: str, valid) -> None:
    if split not in valid:
        raise ValueError(f"split={split!r} is not available; choose one of {list(valid)}")


def _not_found_message(dataset: str, folder: Path, missing: list[str], where: str) -> str:
    return (
        f"{dataset} is not in {folder}.\n"
        f"Missing: {', '.join(missing)}.\n"
        f"Get the files from {where} and put them in that folder, or pass download=True "
        f"when you are online.\n"
        f"To keep the data somewhere else, set the environment variable {ENV_VAR} to a folder "
        f"(currently the data root is {folder.parent}).\n"
        f"No files needed: cnncourse.data.load_mnist() (10,000 bundled MNIST digits) and "
        f"cnncourse.data.make_shapes() (synthetic RGB images)."
    )


def _md5(path: Path) -> str:
    digest = hashlib.md5()  # integrity against the published checksums, not security
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch(urls: list[str], target: Path, md5: str) -> None:
    """Download the first URL that answers with the right MD5 into ``target``.

    Raises ``OSError`` naming every URL tried and why it failed.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    failures = []
    for url in urls:
        try:
            with urllib.request.urlopen(url, timeout=_TIMEOUT_SECONDS) as response, \
                    partial.open("wb") as out:
                shutil.copyfileobj(response, out)
        except (OSError, http.client.HTTPException, ValueError) as error:
            failures.append(f"{url}: {getattr(error, 'reason', error)}")
            continue
        got = _md5(partial)
        if got == md5:
            partial.replace(target)
            return
        failures.append(f"{url}: checksum {got}, expected {md5}")
    partial.unlink(missing_ok=True)
    raise OSError("; ".join(failures))


# ---------------------------------------------------------------- MNIST (IDX files)

def read_idx(path: str | Path) -> np.ndarray:
    """An IDX file (MNIST's format; ``.gz`` is decompressed) as a numpy array."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        raw = stream.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise ValueError(f"{path} is truncated or damaged: header says {shape} "
                         f"({expected} bytes of data), the file has {len(raw) - offset}")
    return np.frombuffer(raw, dtype, offset=offset).reshape(shape).astype(dtype.newbyteorder("="))


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    return None


def load_full_mnist(split: str = "train", root: str | Path | None = None,
                    download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """The full MNIST split: images ``(N, 1, 28, 28)`` float32 in [0, 1], labels int64.

    ``"train"`` has 60,000 digits and ``"test"`` 10,000. Files are read from
    ``<root>/mnist/`` (``root`` defaults to ``data_root()``), plain or gzipped.
    """
    _check_split(split, MNIST_FILES)
    folder = Path(root if root is not None else data_root()) / MNIST_FOLDER
    names = MNIST_FILES[split]
    if download and any(_find(folder, n) is None for n in names):
        try:
            for name in names:
                if _find(folder, name) is None:
                    gz = f"{name}.gz"
                    _fetch([m + gz for m in MNIST_MIRRORS], folder / gz, MNIST_GZ_MD5[gz])
        except OSError as error:
            raise DatasetNotFound(_not_found_message(
                f"MNIST ({split})", folder, [n for n in names if _find(folder, n) is None],
                MNIST_PAGE) + f"\nThe download failed: {error}") from None
    paths = [_find(folder, n) for n in names]
    if None in paths:
        missing = [f"{n} (or {n}.gz)" for n, p in zip(names, paths, strict=True) if p is None]
        raise DatasetNotFound(_not_found_message(
            f"MNIST ({split})", folder, missing,
            f"{MNIST_PAGE} (mirror: {MNIST_MIRRORS[0]})"))
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"{paths[0]} and {paths[1]} do not match: images {images.shape}, "
                         f"labels {labels.shape}")
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return x, torch.from_numpy(labels.astype(np.int64))


# ---------------------------------------------------------------- CIFAR-10 (pickle batches)

def _download_cifar10(root: Path) -> None:
    archive = root / "cifar-10-python.tar.gz"
    if not archive.exists():
        _fetch([CIFAR10_URL], archive, CIFAR10_MD5)
    with tarfile.open(archive, "r:gz") as tar:
        members = [m for m in tar.getmembers() if m.name.startswith(CIFAR10_FOLDER + "/")]
        tar.extractall(root, members=members, filter="data")


def load_cifar10(split: str = "train", root: str | Path | None = None,
                 download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """CIFAR-10: images ``(N, 3, 32, 32)`` float32 in [0, 1], labels int64 (``CIFAR10_CLASSES``).

    ``"train"`` has 50,000 images (``data_batch_1`` to ``_5``) and ``"test"`` 10,000
    (``test_batch``), read from the python version's folder ``<root>/cifar-10-batches-py/``.
    The batches are pickles: only read files you got from the official page.
    """
    _check_split(split, CIFAR10_FILES)
    root_path = Path(root if root is not None else data_root())
    folder = root_path / CIFAR10_FOLDER
    names = CIFAR10_FILES[split]
    missing = [n for n in names if not (folder / n).exists()]
    if missing and download:
        try:
            _download_cifar10(root_path)
        except (OSError, tarfile.TarError) as error:
            raise DatasetNotFound(_not_found_message(
                f"CIFAR-10 ({split})", folder, missing, f"{CIFAR10_PAGE} (python version)")
                + f"\nThe download failed: {error}") from None
        missing = [n for n in names if not (folder / n).exists()]
    if missing:
        raise DatasetNotFound(_not_found_message(
            f"CIFAR-10 ({split})", folder, missing,
            f"{CIFAR10_PAGE} (the python version, {CIFAR10_URL}, unpacked)"))
    images, labels = [], []
    for name in names:
        with (folder / name).open("rb") as stream:
            batch = pickle.load(stream, encoding="bytes")
        images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
        labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
    x = torch.from_numpy(np.concatenate(images).astype(np.float32) / 255.0)
    return x, torch.from_numpy(np.concatenate(labels))
