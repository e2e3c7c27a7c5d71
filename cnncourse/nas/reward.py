"""The reward: validation accuracy of a child network after a very short training.

Zoph and Le trained each child for 50 epochs on CIFAR-10 (on 800 GPUs); we train for a few
dozen mini-batch steps on 14 x 14 bundled MNIST digits, so one reward costs a fraction of a
second on a CPU. The reward is noisy and favours networks that learn FAST, which is not the
same as networks that end up best: a proxy, as every cheap NAS reward is.

The validation digits are held out of the training split; the test split is never used for
the search. Rewards are cached by architecture, so a search that samples the same network
twice pays once (and both searches in a comparison see identical rewards).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from cnncourse.data import load_mnist
from cnncourse.nas.space import Architecture, ChildNet, SearchSpace


@dataclass(frozen=True)
class Task:
    """Training and validation tensors for the children."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor


def mnist_task(n_train: int = 1000, n_val: int = 500, size: int = 14) -> Task:
    """Bundled MNIST training digits, average-pooled to ``size`` and standardised; the first
    ``n_train`` train, the next ``n_val`` validate."""
    images, labels = load_mnist("train", normalize=True)
    if n_train + n_val > len(images):
        raise ValueError(f"n_train + n_val must be at most {len(images)}")
    images = F.adaptive_avg_pool2d(images[: n_train + n_val], size)
    return Task(images[:n_train], labels[:n_train], images[n_train:], labels[n_train:n_train
                                                                             + n_val])


@dataclass
class ChildTrainer:
    """Callable ``arch -> reward``: build the child, train ``steps`` Adam steps, return the
    validation accuracy. Deterministic for a given (arch, seed); results are cached."""

    space: SearchSpace
    task: Task
    steps: int = 30
    batch_size: int = 32
    lr: float = 0.01
    seed: int = 0
    cache: dict[Architecture, float] = field(default_factory=dict)
    seconds: float = 0.0  # time spent training children (cache hits cost nothing)

    def __call__(self, arch: Architecture) -> float:
        if arch not in self.cache:
            start = time.perf_counter()
            self.cache[arch] = self._train(arch)
            self.seconds += time.perf_counter() - start
        return self.cache[arch]

    def _train(self, arch: Architecture) -> float:
        generator = torch.Generator().manual_seed(self.seed)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            model = ChildNet(self.space, arch, in_channels=self.task.train_x.shape[1])
        optimizer = torch.optim.Adam(model.parameters(), lr=self.lr)
        n = len(self.task.train_x)
        model.train()
        for _ in range(self.steps):
            idx = torch.randint(n, (self.batch_size,), generator=generator)
            loss = F.cross_entropy(model(self.task.train_x[idx]), self.task.train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            predictions = model(self.task.val_x).argmax(dim=1)
        return float((predictions == self.task.val_y).float().mean())
