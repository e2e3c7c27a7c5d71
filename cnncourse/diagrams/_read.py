"""Labels read from layers: what a box says about a convolution, a pool, a normalisation.

``describe_module`` returns ``(kind, lines, role)``: kind "primary" for a layer that gets
its own box (convolution, pooling, linear, the course's own layers) and "secondary" for one
that joins the box before it (normalisation, activation, dropout); lines are the box's text;
role its colour (see ``_svg.ROLES``).
"""

from __future__ import annotations

from torch import nn

from cnncourse.models.lenet import EuclideanRBF, ScaledTanh, SparseConv2d, Subsampling
from cnncourse.models.neocognitron import CLayer, SLayer
from cnncourse.models.resnet import ZeroPadShortcut

_ACTIVATIONS: dict[type, str] = {nn.ReLU: "ReLU", nn.ReLU6: "ReLU6", nn.SiLU: "SiLU",
                                 nn.GELU: "GELU", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
                                 ScaledTanh: "scaled tanh"}


def pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[-1]))


def kernel_text(value: int | tuple[int, ...]) -> str:
    """``3 -> "3×3"``, ``(1, 7) -> "1×7"``."""
    kh, kw = pair(value)
    return f"{kh}×{kw}"


def shape_text(shape: tuple[int, ...], channels_last: bool = False) -> str:
    """A tensor shape with its batch dimension as a reader writes it: ``64@56×56`` (channels
    @ height × width) for feature maps, ``4096`` for a vector."""
    dims = shape[1:]
    if len(dims) == 3:
        h, w, c = dims if channels_last else (dims[1], dims[2], dims[0])
        return f"{c}@{h}×{w}"
    if len(dims) == 1:
        return f"{dims[0]}"
    return "×".join(str(d) for d in dims)


def conv_lines(conv: nn.Conv2d) -> tuple[list[str], str]:
    """Title and detail of a convolution's box, and its role: depth-wise, 1x1 or k x k."""
    k = kernel_text(conv.kernel_size)
    depthwise = conv.groups > 1 and conv.groups == conv.in_channels == conv.out_channels
    if depthwise:
        title, role = f"{k} depth-wise conv, {conv.out_channels}", "depthwise"
    elif conv.groups > 1:
        title, role = f"{k} conv, {conv.out_channels}, {conv.groups} groups", "conv"
    else:
        title = f"{k} conv, {conv.out_channels}"
        role = "pointwise" if pair(conv.kernel_size) == (1, 1) else "conv"
    sh, sw = pair(conv.stride)
    details = [f"stride {sh}" if sh == sw else f"stride {sh}×{sw}"] if (sh, sw) != (1, 1) else []
    return [title, ", ".join(details)] if details else [title], role


def _pool_lines(m: nn.Module) -> list[str]:
    kind = "max" if isinstance(m, nn.MaxPool2d) else "average"
    title = f"{kernel_text(m.kernel_size)} {kind} pool"
    stride = pair(m.stride if m.stride is not None else m.kernel_size)
    return [title, f"stride {stride[0]}"] if stride != (1, 1) else [title]


def describe_module(m: nn.Module, reads: tuple[int, ...] | None = None
                    ) -> tuple[str, list[str], str]:
    """(kind, lines, role) of one layer; ``reads`` is the shape of its input, if known."""
    if isinstance(m, nn.Conv2d):
        lines, role = conv_lines(m)
        return "primary", lines, role
    if isinstance(m, SparseConv2d):
        k = kernel_text(m.kernel_size)
        links = len(m.out_index)
        return ("primary", [f"{k} conv, {m.out_channels}, sparse",
                            f"{links} of {m.in_channels * m.out_channels} map pairs"], "conv")
    if isinstance(m, nn.Linear):
        if reads is not None and len(reads) == 4:   # on (N, H, W, C): a 1x1 convolution
            return "primary", [f"1×1 conv (linear), {m.out_features}"], "pointwise"
        return "primary", [f"fully connected, {m.out_features}"], "linear"
    if isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
        return "primary", _pool_lines(m), "pool"
    if isinstance(m, nn.AdaptiveAvgPool2d | nn.AdaptiveMaxPool2d):
        size = pair(m.output_size)
        if size == (1, 1):
            return "primary", ["global average pool"], "pool"
        return "primary", [f"average pool to {size[0]}×{size[1]}"], "pool"
    if isinstance(m, Subsampling):
        k = m.kernel_size
        return "primary", [f"{k}×{k} subsampling", "sum × weight + bias"], "pool"
    if isinstance(m, EuclideanRBF):
        return "primary", [f"RBF output, {m.centres.shape[0]}", "fixed centres"], "linear"
    if isinstance(m, SLayer):
        planes, _, k, _ = m.weight.shape
        return ("primary", [f"S-layer, {planes} planes",
                            f"{k}×{k}, threshold {m.threshold:g}, learned"], "conv")
    if isinstance(m, CLayer):
        return ("primary", [f"C-layer, {m.blur}×{m.blur} blur",
                            f"stride {m.stride}, fixed"], "pool")
    if isinstance(m, ZeroPadShortcut):
        return ("primary", ["subsample, pad with zeros",
                            f"stride {m.stride}, +{m.extra} channels"], "pool")
    if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
        return "secondary", ["BN"], "norm"
    if isinstance(m, nn.LayerNorm):
        return "secondary", ["LN"], "norm"
    if isinstance(m, nn.LocalResponseNorm):
        return "secondary", ["LRN"], "norm"
    if type(m).__name__ == "GRN":
        return "secondary", ["GRN"], "norm"
    if isinstance(m, nn.Dropout):
        return "secondary", [f"dropout {m.p:g}"], "act"
    if type(m).__name__ == "StochasticDepth":
        return "secondary", [f"stochastic depth {m.p:g}"], "act"
    for cls, name in _ACTIVATIONS.items():
        if isinstance(m, cls):
            return "secondary", [name], "act"
    raise ValueError(f"no drawing for a {type(m).__name__}: add it to cnncourse.diagrams._read")
