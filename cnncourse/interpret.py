"""Looking inside a trained CNN: feature maps by layer and gradient saliency maps.

- ``feature_maps``: the outputs of chosen sub-modules for one forward pass (forward hooks);
- ``saliency_map``: Simonyan, Vedaldi and Zisserman (2013), "Deep Inside Convolutional
  Networks" (arXiv:1312.6034), section 3.1: the gradient of a class score with respect to
  the input pixels, its absolute value, and the maximum over colour channels.

The class score is the LOGIT (the input of the softmax), as in the paper: the gradient of a
softmax probability also depends on every other class's score, so it can grow by making the
other classes less likely rather than by showing more evidence for the target class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn


def _target_indices(target: int | torch.Tensor, n: int) -> torch.Tensor:
    """``target`` as a LongTensor of shape (n,): one class index per image."""
    if isinstance(target, int):
        return torch.full((n,), target, dtype=torch.long)
    target = torch.as_tensor(target, dtype=torch.long).reshape(-1)
    if target.numel() == 1:
        return target.expand(n)
    if target.numel() != n:
        raise ValueError(f"target has {target.numel()} class indices for {n} images; "
                         "pass one int or one index per image")
    return target


def class_scores(model: nn.Module, images: torch.Tensor,
                 target: int | torch.Tensor) -> torch.Tensor:
    """The logits ``model(images)[i, target[i]]`` of shape (N,)."""
    logits = model(images)
    index = _target_indices(target, images.shape[0]).to(logits.device)
    return logits.gather(1, index[:, None]).squeeze(1)


def saliency_map(model: nn.Module, images: torch.Tensor,
                 target: int | torch.Tensor) -> torch.Tensor:
    """Gradient saliency of ``target``'s logit for each image: a (N, H, W) tensor >= 0.

    images: (N, C, H, W). target: one class index for all images or a LongTensor (N,).
    The model is put in eval mode (dropout off, BatchNorm uses its running statistics)
    and stays there. ``torch.autograd.grad`` differentiates with respect to the input
    only, so the parameters' ``.grad`` are left exactly as they were.
    """
    model.eval()
    x = images.detach().clone().requires_grad_(True)
    scores = class_scores(model, x, target)
    # Each image's score depends only on its own pixels (eval mode), so the gradient of
    # the sum gives every image the gradient of its own score.
    (grad,) = torch.autograd.grad(scores.sum(), x)
    return grad.abs().amax(dim=1)


def feature_maps(model: nn.Module, x: torch.Tensor,
                 layers: Sequence[str] | Mapping[str, nn.Module]
                 ) -> dict[str, torch.Tensor]:
    """Outputs of the named sub-modules of ``model`` for input ``x``, in eval mode, no
    grad.

    layers: names as in ``model.named_modules()`` (e.g. ``["features.0", "layer2"]``)
    or a mapping ``label -> module``. Returns ``{label: output}`` (detached). Hooks are
    removed afterwards even if the forward pass fails; the model's train/eval mode is
    restored.
    """
    if isinstance(layers, Mapping):
        chosen = dict(layers)
    else:
        modules = dict(model.named_modules())
        missing = [name for name in layers if name not in modules]
        if missing:
            raise KeyError(f"no sub-module named {missing} in {type(model).__name__}; "
                           f"see [name for name, _ in model.named_modules()]")
        chosen = {name: modules[name] for name in layers}
    outputs: dict[str, torch.Tensor] = {}

    def keep(label: str):
        def hook(_module, _inputs, output):
            outputs[label] = output.detach()
        return hook

    handles = [module.register_forward_hook(keep(label))
               for label, module in chosen.items()]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        model.train(was_training)
    return {label: outputs[label] for label in chosen}


def first_conv(model: nn.Module) -> nn.Conv2d:
    """The first ``nn.Conv2d`` of ``model`` in registration order: the filters that see pixels."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module
    raise ValueError(f"{type(model).__name__} has no nn.Conv2d")
