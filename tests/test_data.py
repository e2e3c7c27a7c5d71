"""The bundled MNIST subset, the full-data readers (on tiny files, never the network) and the
synthetic shapes."""

import gzip
import hashlib
import io
import pickle
import shutil
import tarfile
import urllib.error

import numpy as np
import pytest
import torch

from cnncourse.data import (
    SHAPE_CLASSES,
    ChecksumError,
    DatasetNotFound,
    data_root,
    load_cifar10,
    load_full_mnist,
    load_mnist,
    make_shapes,
    mnist_loaders,
    mnist_mean_std,
    read_idx,
    shapes_loaders,
)
from cnncourse.data import files as files_module
from cnncourse.data import mnist as mnist_module
from cnncourse.data import shapes as shapes_module

# ------------------------------------------------ bundled MNIST subset


@pytest.mark.parametrize(("split", "n"), [("train", 8_000), ("test", 2_000), ("all", 10_000)])
def test_split_sizes_types_and_range(split, n):
    images, labels = load_mnist(split)
    assert images.shape == (n, 1, 28, 28) and images.dtype == torch.float32
    assert labels.shape == (n,) and labels.dtype == torch.int64
    assert 0.0 == images.min() and images.max() == 1.0
    assert set(labels.tolist()) == set(range(10))


def test_test_split_is_stratified_and_train_is_the_rest():
    _, test_labels = load_mnist("test")
    _, train_labels = load_mnist("train")
    _, all_labels = load_mnist("all")
    assert torch.bincount(test_labels).tolist() == [200] * 10
    assert (torch.bincount(train_labels) + 200).tolist() == torch.bincount(all_labels).tolist()


def test_splits_are_disjoint_and_cover_the_file():
    def keys(split):
        images, labels = load_mnist(split)
        return {(images[i].numpy().tobytes(), int(labels[i])) for i in range(len(labels))}

    train, test, everything = keys("train"), keys("test"), keys("all")
    assert not train & test
    assert train | test == everything


def test_split_is_fixed_and_shuffled():
    first, first_labels = load_mnist("train")
    again, again_labels = load_mnist("train")
    assert torch.equal(first, again) and torch.equal(first_labels, again_labels)
    assert len(set(first_labels[:50].tolist())) == 10  # not sorted by digit
    first[0] += 1  # callers get their own copy, not the cached array
    assert torch.equal(load_mnist("train")[0][1:], again[1:])
    assert not torch.equal(load_mnist("train")[0][0], first[0])


def test_size_32_pads_two_background_pixels_each_side():
    small, _ = load_mnist("test", size=28)
    padded, _ = load_mnist("test", size=32)
    assert padded.shape == (2_000, 1, 32, 32)
    assert torch.equal(padded[:, :, 2:30, 2:30], small)
    border = padded.clone()
    border[:, :, 2:30, 2:30] = 0
    assert border.abs().sum() == 0


def test_normalize_standardises_with_the_training_statistics():
    mean, std = mnist_mean_std()
    raw, _ = load_mnist("train")
    assert mean == pytest.approx(raw.mean().item(), abs=1e-6)
    assert std == pytest.approx(raw.std().item(), rel=1e-3)
    normalized, _ = load_mnist("train", normalize=True)
    assert normalized.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert normalized.std().item() == pytest.approx(1.0, abs=1e-3)
    padded, _ = load_mnist("test", size=32, normalize=True)
    assert padded[0, 0, 0, 0].item() == pytest.approx(-mean / std)  # padding = background


@pytest.mark.parametrize(("kwargs", "listed"), [
    ({"split": "valid"}, "['train', 'test', 'all']"),
    ({"size": 64}, "[28, 32]"),
])
def test_unknown_split_or_size_lists_the_valid_ones(kwargs, listed):
    with pytest.raises(ValueError) as error:
        load_mnist(**kwargs)
    assert listed in str(error.value)


def test_checksum_mismatch_names_the_file(tmp_path, monkeypatch):
    damaged = tmp_path / "mnist10k.npz"
    shutil.copy(mnist_module.BUNDLED_FILE, damaged)
    with damaged.open("ab") as stream:
        stream.write(b"\0")
    monkeypatch.setattr(mnist_module, "BUNDLED_FILE", damaged)
    with pytest.raises(ChecksumError, match="mnist10k.npz") as error:
        load_mnist()
    assert str(damaged) in str(error.value) and "Reinstall" in str(error.value)


def test_bundled_file_matches_the_documented_checksum():
    digest = hashlib.sha256(mnist_module.BUNDLED_FILE.read_bytes()).hexdigest()
    assert digest == "0217e13bd0668deb198aa7d305edbf0331eb89f8a6e7dd226e03d1aa3a9bd4ef"


def test_mnist_loaders_batches_subsets_and_seeded_shuffling():
    train, test = mnist_loaders(batch_size=100, size=32, n_train=500, n_test=300)
    x, y = next(iter(train))
    assert x.shape == (100, 1, 32, 32) and y.shape == (100,)
    assert len(train.dataset) == 500 and len(test.dataset) == 300

    def first_labels(seed):
        return next(iter(mnist_loaders(batch_size=64, seed=seed, n_train=500)[0]))[1]

    assert torch.equal(first_labels(3), first_labels(3))
    assert not torch.equal(first_labels(3), first_labels(4))
    test_labels = torch.cat([y for _, y in test])
    assert torch.equal(test_labels, load_mnist("test")[1][:300])  # test order is kept


# ------------------------------------------------ full data sets from files


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _write_mnist(folder, split, n, compress):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(split) + n)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, n, dtype=np.uint8)
    names = files_module.MNIST_FILES[split]
    for name, array in zip(names, (images, labels), strict=True):
        data = _idx_bytes(array)
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return images, labels


def test_full_mnist_reads_plain_and_gzipped_idx_files(tmp_path):
    train_images, train_labels = _write_mnist(tmp_path / "mnist", "train", 6, compress=False)
    test_images, test_labels = _write_mnist(tmp_path / "mnist", "test", 4, compress=True)
    x, y = load_full_mnist("train", root=tmp_path)
    assert x.shape == (6, 1, 28, 28) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert torch.equal(x[:, 0], torch.from_numpy(train_images / 255.0).float())
    assert y.tolist() == train_labels.tolist()
    x, y = load_full_mnist("test", root=tmp_path)
    assert torch.equal((x[:, 0] * 255).round().to(torch.uint8), torch.from_numpy(test_images))
    assert y.tolist() == test_labels.tolist()


def test_data_root_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("CNNCOURSE_DATA", str(tmp_path))
    assert data_root() == tmp_path
    _write_mnist(tmp_path / "mnist", "test", 3, compress=True)
    assert load_full_mnist("test")[0].shape == (3, 1, 28, 28)
    monkeypatch.delenv("CNNCOURSE_DATA")
    assert data_root().parts[-2:] == (".cache", "cnncourse")


def test_read_idx_rejects_damaged_files(tmp_path):
    good = _idx_bytes(np.zeros((2, 3, 3), np.uint8))
    (tmp_path / "truncated").write_bytes(good[:-1])
    (tmp_path / "not-idx").write_bytes(b"PK\x03\x04" + good[4:])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "truncated")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "not-idx")


def test_missing_mnist_files_give_one_clear_message(tmp_path):
    with pytest.raises(DatasetNotFound) as error:
        load_full_mnist("test", root=tmp_path)
    message = str(error.value)
    assert isinstance(error.value, FileNotFoundError)
    for expected in (str(tmp_path / "mnist"), "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
                     "http://yann.lecun.com/exdb/mnist/", "CNNCOURSE_DATA", "download=True",
                     "load_mnist()"):
        assert expected in message


def test_missing_cifar_files_give_one_clear_message(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(b"")
    with pytest.raises(DatasetNotFound) as error:
        load_cifar10("train", root=tmp_path)
    message = str(error.value)
    assert "data_batch_2" in message and "data_batch_1," not in message
    for expected in (str(folder), "https://www.cs.toronto.edu/~kriz/cifar.html", "CNNCOURSE_DATA"):
        assert expected in message


def test_unknown_full_split_lists_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"\['train', 'test'\]"):
        load_full_mnist("validation", root=tmp_path)
    with pytest.raises(ValueError, match=r"\['train', 'test'\]"):
        load_cifar10("all", root=tmp_path)


def test_download_without_network_raises_the_same_clear_error(tmp_path, monkeypatch):
    tried = []

    def offline(url, timeout):
        tried.append(url)
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(files_module.urllib.request, "urlopen", offline)
    with pytest.raises(DatasetNotFound) as error:
        load_full_mnist("train", root=tmp_path, download=True)
    message = str(error.value)
    assert "The download failed" in message and "name resolution" in message
    assert "train-images-idx3-ubyte" in message and "CNNCOURSE_DATA" in message
    assert len(tried) == len(files_module.MNIST_MIRRORS)  # every mirror was tried
    with pytest.raises(DatasetNotFound, match="The download failed"):
        load_cifar10("test", root=tmp_path, download=True)
    assert not list((tmp_path / "mnist").glob("*.part"))


def test_download_checks_the_md5(tmp_path, monkeypatch):
    payloads = {}
    for split in ("test",):
        rng = np.random.default_rng(0)
        arrays = (rng.integers(0, 256, (5, 28, 28)), rng.integers(0, 10, 5))
        for name, array in zip(files_module.MNIST_FILES[split], arrays, strict=True):
            payloads[f"{name}.gz"] = gzip.compress(_idx_bytes(array))
    good_md5 = {name: hashlib.md5(data).hexdigest() for name, data in payloads.items()}

    def fake_urlopen(url, timeout):
        return io.BytesIO(payloads[url.rsplit("/", 1)[1]])

    monkeypatch.setattr(files_module.urllib.request, "urlopen", fake_urlopen)
    monkeypatch.setattr(files_module, "MNIST_GZ_MD5", dict.fromkeys(good_md5, "0" * 32))
    with pytest.raises(DatasetNotFound, match="checksum"):
        load_full_mnist("test", root=tmp_path, download=True)
    monkeypatch.setattr(files_module, "MNIST_GZ_MD5", good_md5)
    x, y = load_full_mnist("test", root=tmp_path, download=True)
    assert x.shape == (5, 1, 28, 28) and len(y) == 5


def _write_cifar_batch(path, n, seed):
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    labels = rng.integers(0, 10, n).tolist()
    with path.open("wb") as stream:
        pickle.dump({b"data": data, b"labels": labels, b"batch_label": b"x"}, stream)
    return data, labels


def test_cifar10_reads_the_python_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [_write_cifar_batch(folder / f"data_batch_{i}", 3, i) for i in range(1, 6)]
    test_data, test_labels = _write_cifar_batch(folder / "test_batch", 2, 99)
    x, y = load_cifar10("train", root=tmp_path)
    assert x.shape == (15, 3, 32, 32) and x.dtype == torch.float32 and y.dtype == torch.int64
    assert y.tolist() == sum((labels for _, labels in batches), [])
    # a row is 1024 red values, then 1024 green, then 1024 blue, each row-major
    data = batches[1][0]
    assert x[3, 1, 0, 5].item() == pytest.approx(data[0, 1024 + 5] / 255)
    assert x[4, 2, 31, 31].item() == pytest.approx(data[1, 3071] / 255)
    x, y = load_cifar10("test", root=tmp_path)
    assert x.shape == (2, 3, 32, 32) and y.tolist() == test_labels


# ------------------------------------------------ synthetic shapes


def test_shapes_types_range_and_balanced_labels():
    images, labels = make_shapes(40)
    assert images.shape == (40, 3, 32, 32) and images.dtype == torch.float32
    assert 0 <= images.min() and images.max() <= 1
    assert labels.dtype == torch.int64
    assert torch.bincount(labels).tolist() == [4] * 10
    assert len(SHAPE_CLASSES) == 10 == len(set(SHAPE_CLASSES))
    assert make_shapes(20, size=48)[0].shape == (20, 3, 48, 48)


def test_shapes_are_deterministic_and_seeded():
    a, la = make_shapes(30, seed=5)
    b, lb = make_shapes(30, seed=5)
    assert torch.equal(a, b) and torch.equal(la, lb)
    c, _ = make_shapes(30, seed=6)
    assert not torch.equal(a, c)
    test, _ = make_shapes(30, seed=5, split="test")
    assert not torch.equal(a, test)
    longer, _ = make_shapes(50, seed=5)
    assert torch.equal(longer[:30], a)  # more data extends, never reshuffles, the set


def test_every_shape_is_drawn_inside_the_image():
    params = shapes_module._draw_params(2000, 32, seed=0, stream=0)
    for label in range(10):
        members = np.flatnonzero(params["label"] == label)
        masks = shapes_module._masks(label, {k: v[members] for k, v in params.items()}, 32)
        covered = masks.sum(axis=(1, 2))
        assert covered.min() >= 10, SHAPE_CLASSES[label]  # visible: at least ten pixels
        border = max(masks[:, [0, -1], :].max(), masks[:, :, [0, -1]].max())
        assert border < 0.25, SHAPE_CLASSES[label]  # inside the image, not cut by its edge


def test_classes_are_not_separable_by_colour_alone():
    images, labels = make_shapes(500)
    mean_colour = images.mean(dim=(2, 3))
    per_class = torch.stack([mean_colour[labels == k].mean(0) for k in range(10)])
    assert per_class.std(dim=0).max() < 0.05  # colours are a nuisance, not a cue


def test_shapes_rejects_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        make_shapes(4, split="valid")
    with pytest.raises(ValueError):
        make_shapes(-1)


def test_shapes_loaders():
    train, test = shapes_loaders(n_train=60, n_test=30, batch_size=16, seed=1)
    x, y = next(iter(train))
    assert x.shape == (16, 3, 32, 32)
    assert len(train.dataset) == 60 and len(test.dataset) == 30
    assert torch.equal(test.dataset.tensors[0], make_shapes(30, seed=1, split="test")[0])


def test_cifar_download_unpacks_the_checked_archive(tmp_path, monkeypatch):
    source = tmp_path / "source" / "cifar-10-batches-py"
    source.mkdir(parents=True)
    _, labels = _write_cifar_batch(source / "test_batch", 3, 7)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(source, arcname="cifar-10-batches-py")
    payload = archive.getvalue()
    monkeypatch.setattr(files_module.urllib.request, "urlopen",
                        lambda url, timeout: io.BytesIO(payload))
    monkeypatch.setattr(files_module, "CIFAR10_MD5", hashlib.md5(payload).hexdigest())
    root = tmp_path / "root"
    x, y = load_cifar10("test", root=root, download=True)
    assert x.shape == (3, 3, 32, 32) and y.tolist() == labels
    assert (root / "cifar-10-python.tar.gz").exists()
