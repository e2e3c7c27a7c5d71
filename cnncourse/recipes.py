"""Training recipes the book runs and the tests hold to their accuracy bars.

``LENET5_RECIPE`` and :func:`train_with_shifts` are chapter 3's: Adam, a tenfold lower rate
for the last epochs, label smoothing and digits shifted afresh every epoch, on the bundled
MNIST split. ``tests/test_models_lenet.py`` checks that this exact recipe gets
``lenet5_modern`` to 98 % on the bundled test digits.
"""

from __future__ import annotations

import torch
from torch import nn

from cnncourse.data.augment import random_shift
from cnncourse.data.loaders import tensor_loader
from cnncourse.train import History, fit

LENET5_RECIPE = {"batch_size": 64, "epochs": 10, "lr": 2e-3, "final_epochs": 3,
                 "shift": 1, "label_smoothing": 0.1}


def train_with_shifts(model: nn.Module, train: tuple[torch.Tensor, torch.Tensor],
                      test: tuple[torch.Tensor, torch.Tensor],
                      recipe: dict = LENET5_RECIPE, seed: int = 0) -> History:
    """Train ``model`` on ``train`` = (images, labels) with one Adam optimiser for the
    whole run and freshly shifted images every epoch; the history has the accuracy on
    ``test`` after each epoch."""
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe["lr"])
    loss_fn = nn.CrossEntropyLoss(label_smoothing=recipe["label_smoothing"])
    shifts = torch.Generator().manual_seed(seed)
    test_loader = tensor_loader(*test, 500)
    history = History()
    for epoch in range(recipe["epochs"] + recipe["final_epochs"]):
        for group in optimizer.param_groups:
            group["lr"] = recipe["lr"] / (1 if epoch < recipe["epochs"] else 10)
        images = random_shift(train[0], recipe["shift"], shifts)
        loader = tensor_loader(images, train[1], recipe["batch_size"], shuffle=True,
                               seed=seed + epoch)
        one = fit(model, loader, test_loader, epochs=1, optimizer=optimizer,
                  loss_fn=loss_fn, seed=seed + epoch)
        for key, values in one.as_dict().items():
            getattr(history, key).extend(values)
    return history
