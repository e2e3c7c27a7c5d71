"""The search space: a tiny CNN described by one choice per decision.

An architecture is a tuple of option indices, one per ``Decision`` in ``SearchSpace.decisions``
(layer 1 kernel, layer 1 channels, layer 1 skip, layer 2 kernel, ...). ``ChildNet`` builds the
network it describes: per layer a k x k convolution (stride 1, "same" padding), batch norm and
ReLU, optionally added to the layer's input (a 1x1 projection when the channels differ), then a
2x2 max pool after every layer but the last; global average pooling and a linear classifier.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

Architecture = tuple[int, ...]


@dataclass(frozen=True)
class Decision:
    """One choice the controller makes: its name and the values it can pick from."""

    name: str
    options: tuple


@dataclass(frozen=True)
class SearchSpace:
    """``layers`` layers, each choosing a kernel size, a channel count and a skip or not."""

    layers: int = 3
    kernels: tuple[int, ...] = (1, 3, 5)
    channels: tuple[int, ...] = (4, 8, 16)
    skips: tuple[bool, ...] = (False, True)

    @property
    def decisions(self) -> tuple[Decision, ...]:
        out = []
        for i in range(1, self.layers + 1):
            out += [Decision(f"layer{i}.kernel", self.kernels),
                    Decision(f"layer{i}.channels", self.channels),
                    Decision(f"layer{i}.skip", self.skips)]
        return tuple(out)

    @property
    def size(self) -> int:
        """How many different architectures the space holds."""
        return math.prod(len(d.options) for d in self.decisions)

    def describe(self, arch: Architecture) -> list[dict]:
        """Per layer ``{"kernel": k, "channels": c, "skip": bool}`` for an architecture."""
        if len(arch) != len(self.decisions):
            raise ValueError(f"an architecture needs {len(self.decisions)} choices, got {arch}")
        values = [d.options[i] for d, i in zip(self.decisions, arch, strict=True)]
        return [{"kernel": values[j], "channels": values[j + 1], "skip": values[j + 2]}
                for j in range(0, len(values), 3)]

    def label(self, arch: Architecture) -> str:
        """A short name: ``3x3/8+skip, 5x5/16, ...`` (kernel/channels per layer)."""
        return ", ".join(f"{L['kernel']}x{L['kernel']}/{L['channels']}"
                          + ("+skip" if L["skip"] else "") for L in self.describe(arch))


def tiny_cnn_space() -> SearchSpace:
    """The chapter's space: 3 layers x (3 kernels x 3 widths x skip or not) = 5,832 networks."""
    return SearchSpace()


class ChildLayer(nn.Module):
    """conv k x k -> BN -> ReLU, plus the (projected) input when ``skip``."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, skip: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel, padding=kernel // 2,
                              bias=False)
        self.norm = nn.BatchNorm2d(out_channels)
        self.skip = skip
        self.project = (nn.Conv2d(in_channels, out_channels, 1, bias=False)
                        if skip and in_channels != out_channels else nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.norm(self.conv(x)))
        if self.skip:
            out = out + self.project(x)
        return out


class ChildNet(nn.Module):
    """The network an architecture describes (see the module docstring)."""

    def __init__(self, space: SearchSpace, arch: Architecture, in_channels: int = 1,
                 num_classes: int = 10) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        described = space.describe(arch)
        for i, spec in enumerate(described):
            layers.append(ChildLayer(channels, spec["channels"], spec["kernel"], spec["skip"]))
            if i < len(described) - 1:
                layers.append(nn.MaxPool2d(2))
            channels = spec["channels"]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, C_last, H/4, W/4) for 3 layers
        return self.classifier(x.mean(dim=(2, 3)))
