"""Batch normalisation written out from tensor operations.

S. Ioffe, C. Szegedy. "Batch Normalization: Accelerating Deep Network Training by Reducing
Internal Covariate Shift." arXiv:1502.03167, ICML 2015 (the "Inception v2" of the Inception
family). Chapter 6 shows ``batch_norm_2d`` and checks it against ``nn.BatchNorm2d``; problem
set 4 asks for it and its checker compares the students' versions with ``nn.BatchNorm2d``.
"""

from __future__ import annotations

import torch


def batch_norm_2d(x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor,
                  running_mean: torch.Tensor, running_var: torch.Tensor, training: bool,
                  momentum: float = 0.1, eps: float = 1e-5) -> torch.Tensor:
    """Batch normalisation of ``x`` (N, C, H, W) per channel, as ``nn.BatchNorm2d``
    does it.

    Training: normalise with the mini-batch mean and biased variance (over N, H, W),
    and move the running statistics in place towards the batch's,
    ``r <- (1 - momentum) r + momentum b``, with the UNBIASED variance for
    ``running_var`` (PyTorch's convention). Eval: normalise with the running
    statistics and leave them alone. Then scale by ``gamma``, shift by ``beta``.
    """
    shape = (1, -1, 1, 1)
    if training:
        dims = (0, 2, 3)
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, unbiased=False)
        n = x.numel() // x.shape[1]
        with torch.no_grad():
            running_mean.mul_(1 - momentum).add_(momentum * mean)
            running_var.mul_(1 - momentum).add_(momentum * var * n / max(n - 1, 1))
    else:
        mean, var = running_mean, running_var
    x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)
    return gamma.view(shape) * x_hat + beta.view(shape)
