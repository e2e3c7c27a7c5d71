"""Tensors in, a seeded ``DataLoader`` out: the one loader recipe every data set here shares."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset


def tensor_loader(images: torch.Tensor, labels: torch.Tensor, batch_size: int = 128,
                  shuffle: bool = False, seed: int = 0) -> DataLoader:
    """A ``DataLoader`` over in-memory tensors, ``num_workers=0`` (laptop CPU, notebooks).

    With ``shuffle`` the order comes from a private generator seeded with ``seed``: the same
    seed gives the same batches, whatever else has used torch's global random state.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(TensorDataset(images, labels), batch_size=batch_size, shuffle=shuffle,
                      generator=generator, num_workers=0)
