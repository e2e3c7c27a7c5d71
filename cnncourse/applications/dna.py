"""DeepBind-style motif finding: a 1-D convolution over one-hot DNA.

Alipanahi, Delong, Weirauch and Frey (2015), "Predicting the sequence specificities of DNA-
and RNA-binding proteins by deep learning", Nature Biotechnology 33(8). A DNA sequence is
one-hot encoded as 4 channels (A, C, G, T) by its length; each convolution filter of width
``w`` is a position weight matrix that scans the sequence for a motif ("motif scan"); a ReLU
with a learned threshold (the bias) keeps strong matches; max pooling over positions asks
"is the motif anywhere?"; a linear layer combines the filters into a binding score.

``make_motif_data`` plants a motif in half of some random sequences; ``MotifNet`` learns
to tell them apart, and its strongest filter, read position by position, spells the motif.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

ALPHABET = "ACGT"


def one_hot(sequences: list[str]) -> torch.Tensor:
    """Sequences of equal length over ``ALPHABET`` as a float tensor ``(N, 4, length)``."""
    lookup = {base: i for i, base in enumerate(ALPHABET)}
    index = torch.tensor([[lookup[base] for base in s] for s in sequences])
    return nn.functional.one_hot(index, len(ALPHABET)).permute(0, 2, 1).float()


def make_motif_data(n: int, motif: str, length: int = 60,
                    seed: int = 0) -> tuple[list[str], torch.Tensor]:
    """``n`` uniformly random sequences; the odd-numbered ones get ``motif`` at a random
    position (label 1), the even-numbered ones do not (label 0). A random sequence can hold
    the motif by chance (about ``length / 4 ** len(motif)``): rare label noise, as in real
    binding data."""
    rng = np.random.default_rng(seed)
    sequences, labels = [], []
    for i in range(n):
        bases = rng.choice(list(ALPHABET), size=length)
        label = i % 2
        if label:
            start = rng.integers(0, length - len(motif) + 1)
            bases[start:start + len(motif)] = list(motif)
        sequences.append("".join(bases))
        labels.append(label)
    return sequences, torch.tensor(labels)


class MotifNet(nn.Module):
    """Convolve (motif scans), rectify, max-pool over positions, one linear score (a
    logit for "bound")."""

    def __init__(self, filters: int = 8, width: int = 11) -> None:
        super().__init__()
        self.scan = nn.Conv1d(len(ALPHABET), filters, kernel_size=width)
        self.rectify = nn.ReLU()
        self.pool = nn.AdaptiveMaxPool1d(1)
        self.score = nn.Linear(filters, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.rectify(self.scan(x))       # (N, filters, length - width + 1)
        x = self.pool(x).flatten(1)          # (N, filters): best match anywhere
        return self.score(x).squeeze(1)      # (N,)


def consensus(weight: torch.Tensor) -> str:
    """The sequence a filter ``(4, width)`` likes best: the highest-weight base at each
    position."""
    return "".join(ALPHABET[i] for i in weight.argmax(0).tolist())


def strongest_window(weight: torch.Tensor, k: int) -> tuple[int, str]:
    """The ``k`` consecutive positions of a filter ``(4, width)`` whose best bases add up to
    the most weight: ``(start, consensus of that window)``. Trims the flanks a filter wider
    than its motif fills with noise."""
    best = weight.max(0).values
    sums = best.unfold(0, k, 1).sum(1)
    start = int(sums.argmax())
    return start, consensus(weight[:, start:start + k])
