"""One small training loop for the whole course: seeded, optional progress bars, a history.

``fit`` trains a classifier with SGD and momentum 0.9 by default: the optimiser of the
papers the course follows (LeNet to ResNet), so the book's experiments match their recipe.
Pass ``optimizer=lambda params: torch.optim.Adam(params, lr=1e-3)`` for anything else: a plain
CNN with no normalisation layer starts very slowly under SGD on ``make_shapes`` (its inputs are
in [0, 1], not centred), while the same net with BatchNorm, or with Adam, learns in a few epochs.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from tqdm.auto import tqdm

PROGRESS_ENV_VAR = "CNNCOURSE_PROGRESS"

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]


@dataclass
class History:
    """Per-epoch metrics of one ``fit`` call (the ``val_*`` lists stay empty without a
    validation loader). Losses are means over examples; accuracies are fractions in [0, 1]."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.train_loss)

    def as_dict(self) -> dict[str, list[float]]:
        return asdict(self)


def _show_progress(progress: bool | None) -> bool:
    """``None`` means: bars in a terminal, none elsewhere (a notebook executed by the book
    build would keep every bar's redraw in its output). ``$CNNCOURSE_PROGRESS=1`` or ``0``
    overrides the guess."""
    if progress is not None:
        return progress
    configured = os.environ.get(PROGRESS_ENV_VAR)
    if configured is not None:
        return configured.strip().lower() not in ("0", "", "false", "no", "off")
    return sys.stderr is not None and sys.stderr.isatty()


@dataclass
class _Tally:
    """Running sums over batches: loss weighted by batch size, correct predictions, examples."""

    loss: float = 0.0
    correct: int = 0
    count: int = 0

    def add(self, outputs: torch.Tensor, labels: torch.Tensor, mean_loss: torch.Tensor) -> None:
        n = labels.shape[0]
        self.loss += mean_loss.item() * n
        self.correct += (outputs.argmax(dim=1) == labels).sum().item()
        self.count += n

    def means(self, what: str) -> tuple[float, float]:
        if self.count == 0:
            raise ValueError(f"the {what} loader yielded no examples")
        return self.loss / self.count, self.correct / self.count


def evaluate(model: nn.Module, loader: Iterable, loss_fn: Callable | None = None,
             device: str | torch.device = "cpu") -> tuple[float, float]:
    """``(mean loss, accuracy)`` of a classifier over a loader of ``(inputs, labels)``.

    Runs in eval mode without gradients and puts the model back in the mode it was in.
    ``loss_fn`` (default cross-entropy) must return the batch MEAN, like torch's losses do.
    """
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    was_training = model.training
    model.eval()
    tally = _Tally()
    try:
        with torch.no_grad():
            for inputs, labels in loader:
                inputs, labels = inputs.to(device), labels.to(device)
                outputs = model(inputs)
                tally.add(outputs, labels, loss_fn(outputs, labels))
    finally:
        model.train(was_training)
    return tally.means("evaluation")


def fit(model: nn.Module, train_loader: Iterable, val_loader: Iterable | None = None,
        epochs: int = 5, lr: float = 0.01,
        optimizer: OptimizerFactory | torch.optim.Optimizer | None = None,
        loss_fn: Callable | None = None, seed: int = 0, progress: bool | None = None,
        device: str | torch.device = "cpu") -> History:
    """Train ``model`` for ``epochs`` passes over ``train_loader`` and return its ``History``.

    optimizer: a callable ``params -> Optimizer`` (or a ready optimiser); default
               ``SGD(params, lr=lr, momentum=0.9)``. ``lr`` is used only by the default.
    loss_fn:   default ``nn.CrossEntropyLoss()``; must return the batch mean.
    seed:      ``torch.manual_seed(seed)`` first, so shuffling through torch's global
               generator, dropout and the like repeat exactly. (Initialise the model under
               your own seed before calling ``fit``.)
    progress:  tqdm bars over epochs and batches; ``None`` shows them only in a terminal
               (see ``_show_progress``), ``True`` also in JupyterLab (as a widget).
    """
    torch.manual_seed(seed)
    model.to(device)
    if optimizer is None:
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    elif isinstance(optimizer, torch.optim.Optimizer):
        opt = optimizer
    else:
        opt = optimizer(model.parameters())
    loss_fn = loss_fn if loss_fn is not None else nn.CrossEntropyLoss()
    show = _show_progress(progress)
    history = History()
    epoch_bar = tqdm(range(epochs), desc="epochs", disable=not show, leave=True)
    for _ in epoch_bar:
        start = time.perf_counter()
        model.train()
        tally = _Tally()
        for inputs, labels in tqdm(train_loader, desc="batches", disable=not show, leave=False):
            inputs, labels = inputs.to(device), labels.to(device)
            opt.zero_grad()
            outputs = model(inputs)
            loss = loss_fn(outputs, labels)
            loss.backward()
            opt.step()
            tally.add(outputs.detach(), labels, loss.detach())
        train_loss, train_acc = tally.means("training")
        history.train_loss.append(train_loss)
        history.train_acc.append(train_acc)
        summary = {"loss": f"{history.train_loss[-1]:.3f}", "acc": f"{history.train_acc[-1]:.3f}"}
        if val_loader is not None:
            val_loss, val_acc = evaluate(model, val_loader, loss_fn, device)
            history.val_loss.append(val_loss)
            history.val_acc.append(val_acc)
            summary["val_acc"] = f"{val_acc:.3f}"
        history.seconds.append(time.perf_counter() - start)
        epoch_bar.set_postfix(summary)
    return history
