"""Convolution arithmetic in closed form: output sizes, receptive fields, parameters, MACs.

These are the formulas the book teaches. ``layer_table`` measures the same quantities on
real modules; the tests check that both agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def conv_output_size(
    n: int,
    kernel: int,
    stride: int = 1,
    padding: int = 0,
    dilation: int = 1,
    ceil_mode: bool = False,
) -> int:
    """Spatial output size of a convolution or pooling window along one axis.

    ``floor((n + 2p - d(k-1) - 1) / s) + 1``; with ``ceil_mode`` the division rounds up, as
    in Caffe's pooling, but (as in PyTorch) the last window must start inside the input or
    the left padding.
    """
    for name, value in (("n", n), ("kernel", kernel), ("stride", stride), ("dilation", dilation)):
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    span = n + 2 * padding - dilation * (kernel - 1) - 1
    if span < 0:
        raise ValueError(
            f"the window (kernel {kernel}, dilation {dilation}) is larger than the padded "
            f"input ({n} + 2*{padding})"
        )
    if not ceil_mode:
        return span // stride + 1
    out = math.ceil(span / stride) + 1
    if (out - 1) * stride >= n + padding:  # the last window would start in the right padding
        out -= 1
    return out


@dataclass(frozen=True)
class ReceptiveField:
    """Receptive field after one layer, in input pixels.

    size:  how many input pixels (along one axis) one output unit sees;
    jump:  distance in input pixels between two neighbouring output units;
    start: input coordinate of the centre of the first output unit's field.
    """

    size: int
    jump: int
    start: float


def receptive_field(layers: Iterable[Sequence[int]]) -> list[ReceptiveField]:
    """Receptive field after each layer of a stack.

    Each layer is ``(kernel, stride)``, ``(kernel, stride, dilation)`` or
    ``(kernel, stride, dilation, padding)``; padding only moves ``start``.
    """
    size, jump, start = 1, 1, 0.5  # one input pixel, centred at 0.5
    rows = []
    for layer in layers:
        if not 2 <= len(layer) <= 4:
            raise ValueError(f"a layer is (kernel, stride[, dilation[, padding]]), got {layer!r}")
        kernel, stride, *rest = layer
        dilation = rest[0] if len(rest) > 0 else 1
        padding = rest[1] if len(rest) > 1 else 0
        effective = dilation * (kernel - 1) + 1
        size = size + (effective - 1) * jump
        start = start + ((effective - 1) / 2 - padding) * jump
        jump = jump * stride
        rows.append(ReceptiveField(size=size, jump=jump, start=start))
    return rows


def conv_params(in_channels: int, out_channels: int, kernel: int | tuple[int, int],
                bias: bool = True, groups: int = 1) -> int:
    """Weights and biases of a 2-D convolution: ``out * (in/groups) * kh * kw (+ out)``."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    if in_channels % groups or out_channels % groups:
        raise ValueError(f"groups={groups} must divide in ({in_channels}) and out ({out_channels})")
    return out_channels * (in_channels // groups) * kh * kw + (out_channels if bias else 0)


def conv_macs(in_channels: int, out_channels: int, kernel: int | tuple[int, int],
              out_h: int, out_w: int, groups: int = 1) -> int:
    """Multiply-accumulates of a 2-D convolution: a ``(in/groups)*kh*kw`` dot product an output."""
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    return out_channels * out_h * out_w * (in_channels // groups) * kh * kw


def depthwise_separable_macs(in_channels: int, out_channels: int, kernel: int,
                             out_h: int, out_w: int) -> int:
    """MACs of a depth-wise ``k x k`` convolution followed by a point-wise ``1 x 1`` one."""
    depthwise = conv_macs(in_channels, in_channels, kernel, out_h, out_w, groups=in_channels)
    pointwise = conv_macs(in_channels, out_channels, 1, out_h, out_w)
    return depthwise + pointwise


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Weights and biases of a fully connected layer."""
    return in_features * out_features + (out_features if bias else 0)


def linear_macs(in_features: int, out_features: int) -> int:
    """Multiply-accumulates of a fully connected layer for one example."""
    return in_features * out_features
