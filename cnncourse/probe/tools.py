"""Tools a problem set's setup cell imports from its checker module, which the grading
sandbox must hold too.

Inside the sandbox, ``from cnncourse.checks.psNN import ...`` finds a stub module
(``cnncourse.grading.view``): the checkers do nothing there, and the names in the module's
``TOOLS`` are plain data or come from here. So everything here imports only the standard
library, torch and numpy, and nothing here answers a graded part.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


# --------------------------------------------------------------------------- cost (ps07)
def count_macs(model: nn.Module, resolution: int, in_channels: int = 3) -> int:
    """Multiply-accumulates of one forward pass on one ``resolution`` x ``resolution`` image,
    counted by torch's ``FlopCounterMode`` (which counts a multiply-add as two FLOPs). Works
    on a model built under ``with torch.device("meta"):``, where nothing is computed: the way
    to count networks too large to run. ``cnncourse.analysis`` re-exports it: the course's
    one MAC counter, also inside the sandbox.
    """
    model = model.eval()
    device = next(model.parameters()).device
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.empty(1, in_channels, resolution, resolution, device=device))
    return counter.get_total_flops() // 2


# EfficientNet-B0's MBConv stages, Table 1 of Tan and Le (2019), stages 2-8: expansion,
# kernel, stride of the first block, input channels, output channels, blocks.
EFFICIENTNET_B0_STAGES = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)


def _scale_width(channels: int, width: float, divisor: int = 8) -> int:
    """``channels * width`` rounded to the nearest multiple of 8, never down by over 10%
    (as the official EfficientNet code and torchvision round)."""
    value = channels * width
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


class _OnThePooled(nn.Module):
    """Runs ``layers`` on the per-channel means of its input and passes the input on
    unchanged: what a squeeze-and-excitation unit costs, without what it does."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.layers(x.mean(dim=(2, 3), keepdim=True))
        return x


def efficientnet_skeleton(width: float = 1.0, depth: float = 1.0,
                          num_classes: int = 1000) -> nn.Sequential:
    """EfficientNet-B0's multiplying layers, its channels scaled by ``width`` and its stages'
    block counts by ``depth``, rounded as the real networks are (channels to multiples of 8,
    block counts up).

    Every convolution and the classifier are there with EfficientNet's shapes (the stem; per
    block the 1x1 expansion, the depth-wise convolution, the squeeze-and-excitation's two 1x1
    convolutions on the pooled channels, the 1x1 projection; the 1x1 head), so it costs the
    MACs EfficientNet costs. Batch norms, activations, gates and shortcuts, which count no
    MACs, are left out: it is a network to measure, not to train.
    """
    stem = _scale_width(EFFICIENTNET_B0_STAGES[0][3], width)
    layers: list[nn.Module] = [nn.Conv2d(3, stem, 3, 2, padding=1, bias=False)]
    channels = stem
    for expand, kernel, stride, _, out_channels, blocks in EFFICIENTNET_B0_STAGES:
        out_channels = _scale_width(out_channels, width)
        for i in range(math.ceil(blocks * depth)):
            hidden = channels * expand
            squeeze = max(1, int(channels * 0.25))
            if expand != 1:
                layers.append(nn.Conv2d(channels, hidden, 1, bias=False))
            layers += [
                nn.Conv2d(hidden, hidden, kernel, stride if i == 0 else 1, padding=kernel // 2,
                          groups=hidden, bias=False),
                _OnThePooled(nn.Conv2d(hidden, squeeze, 1), nn.Conv2d(squeeze, hidden, 1)),
                nn.Conv2d(hidden, out_channels, 1, bias=False),
            ]
            channels = out_channels
    head = 4 * channels  # 1280 for B0
    layers += [nn.Conv2d(channels, head, 1, bias=False), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(head, num_classes)]
    return nn.Sequential(*layers)
