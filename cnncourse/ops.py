"""Convolution and pooling written out by hand.

Chapter 1 shows these functions and problem set 1 asks for them; the checkers compare the
students' versions against them. They work on ``torch`` tensors in the ``(N, C, H, W)``
layout of ``torch.nn.functional`` and agree with it to floating-point precision.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnncourse.analysis.arithmetic import conv_output_size


def conv2d_loops(x: torch.Tensor, weight: torch.Tensor,
                 bias: torch.Tensor | None = None, stride: int = 1,
                 padding: int = 0) -> torch.Tensor:
    """Cross-correlation by explicit loops over output positions (what ``F.conv2d``
    computes).

    x: (N, C_in, H, W); weight: (C_out, C_in, K_h, K_w); bias: (C_out,) or None.
    """
    n, c_in, h, w = x.shape
    c_out, c_w, kh, kw = weight.shape
    if c_w != c_in:
        raise ValueError(f"weight expects {c_w} input channels, x has {c_in}")
    x = F.pad(x, (padding, padding, padding, padding))
    out_h = conv_output_size(h, kh, stride, padding)
    out_w = conv_output_size(w, kw, stride, padding)
    out = x.new_zeros(n, c_out, out_h, out_w)
    for i in range(out_h):
        for j in range(out_w):
            # the window under output (i, j): (N, C_in, kh, kw)
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            # every filter against this patch: sum over channels and the window
            out[:, :, i, j] = torch.einsum("nckl,ockl->no", patch, weight)
    if bias is not None:
        out += bias.view(1, -1, 1, 1)
    return out


def conv2d_im2col(x: torch.Tensor, weight: torch.Tensor,
                  bias: torch.Tensor | None = None, stride: int = 1,
                  padding: int = 0) -> torch.Tensor:
    """Convolution as one matrix product: unfold the patches into columns (im2col),
    then multiply them by the flattened kernels."""
    n, _, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    cols = F.unfold(x, (kh, kw), padding=padding, stride=stride)  # (N, C_in*kh*kw, L)
    out = weight.reshape(c_out, -1) @ cols                           # (N, C_out, L)
    if bias is not None:
        out = out + bias.view(1, -1, 1)
    out_h = conv_output_size(h, kh, stride, padding)
    out_w = conv_output_size(w, kw, stride, padding)
    return out.view(n, c_out, out_h, out_w)


def maxpool2d_forward(x: torch.Tensor, kernel_size: int,
                      stride: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Max pooling without padding; returns the maxima and, for each, the flat index
    ``row * W + col`` of the winning input pixel (first one on ties), as
    ``F.max_pool2d``."""
    stride = stride or kernel_size
    n, c, h, w = x.shape
    out_h = conv_output_size(h, kernel_size, stride)
    out_w = conv_output_size(w, kernel_size, stride)
    out = x.new_empty(n, c, out_h, out_w)
    idx = torch.empty(n, c, out_h, out_w, dtype=torch.long)
    for i in range(out_h):
        for j in range(out_w):
            r0, c0 = i * stride, j * stride
            window = x[:, :, r0:r0 + kernel_size, c0:c0 + kernel_size].reshape(n, c, -1)
            best, arg = window.max(dim=-1)
            out[:, :, i, j] = best
            idx[:, :, i, j] = (r0 + arg // kernel_size) * w + (c0 + arg % kernel_size)
    return out, idx


def maxpool2d_backward(grad_out: torch.Tensor, indices: torch.Tensor,
                       input_shape: torch.Size | tuple[int, ...]) -> torch.Tensor:
    """Gradient of max pooling: each output's gradient goes to its window's argmax.

    Overlapping windows can pick the same pixel; its gradients add up (``scatter_add_``,
    not assignment, which would keep only the last one).
    """
    n, c, h, w = input_shape
    grad_in = grad_out.new_zeros(n, c, h * w)
    grad_in.scatter_add_(2, indices.reshape(n, c, -1), grad_out.reshape(n, c, -1))
    return grad_in.view(n, c, h, w)
