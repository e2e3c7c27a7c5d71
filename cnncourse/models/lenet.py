"""LeNet-5: the paper's network and the common modern variant.

Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based learning applied to document
recognition", Proceedings of the IEEE 86(11), 1998, section II.B and Table I.

``lenet5`` follows the paper layer by layer (32x32 input):

====  ======================================================  =====================
C1    6 maps 28x28, 5x5 convolution                           156 parameters
S2    6 maps 14x14: 2x2 sums x a trainable coefficient + bias  12
C3    16 maps 10x10, 5x5, each map reads the S2 maps of        1,516
      Table I (``C3_TABLE``, 60 connections)
S4    16 maps 5x5, as S2                                       32
C5    120 maps 1x1, 5x5 convolution                           48,120
F6    84 units, fully connected                               10,164
out   10 Euclidean RBF units with FIXED centres               0 trainable
====  ======================================================  =====================

Every layer but the output is followed by the scaled tanh ``1.7159 tanh(2x/3)`` of the paper's
appendix A, so 60,000 parameters are trained.

Deviations from the paper, and why:

* The RBF centres are the paper's idea, not its bitmaps: the paper draws each digit as a
  stylised 7x12 bitmap of +1 / -1 (its Fig. 3), which it does not list. ``RBF_BITMAPS`` holds
  our own 7x12 drawings, made for this course in the same spirit (one ASCII-art digit each,
  ``#`` = +1, ``.`` = -1).
* The output returns MINUS the squared distance to each centre, so that, as for every other
  classifier here, the largest score wins and ``nn.CrossEntropyLoss`` applies. Cross-entropy on
  these scores is the paper's discriminative criterion (its eq. 9) without the constant
  "rubbish class" term.
* Training (in the book, chapter "LeNet-5") uses ``cnncourse.train.fit`` with Adam, digits
  shifted at random by up to one pixel and label smoothing, not the paper's stochastic
  diagonal Levenberg-Marquardt method on undistorted digits: a recipe that reaches a good
  accuracy from the bundled 8,000 digits in seconds. The initialisation is the paper's
  (uniform in +-2.4 / fan-in).
* Input scaling: the paper maps the background to -0.1 and the ink to 1.175 (mean about 0,
  variance about 1); the course standardises with the training split's mean and standard
  deviation instead (``load_mnist(normalize=True)``), which serves the same purpose. The
  models themselves take any float input.

``lenet5_modern`` is the LeNet-5 most code and courses use today: C3 connected to all six S2
maps, ReLU, 2x2 max pooling and a linear output for softmax: 61,706 parameters. C5 stays a 5x5
convolution in both; on a 5x5 input it is exactly a fully connected layer from the 400
flattened features (same weights, same count), as the paper remarks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.models._registry import register_model

# Table I of the paper: which S2 maps (0-5) each C3 map (0-15) reads. Maps 0-5 take three
# neighbouring maps, 6-11 four neighbouring ones, 12-14 four non-neighbouring ones, 15 all six.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

# The output layer's fixed centres: digits 0-9 drawn side by side, each 7 wide and 12 high
# (see the module docstring).
RBF_BITMAPS = """
..###.. ...#... .#####. .#####. .....#. ####### ..####. ####### .#####. .#####.
.#...#. ..##... #.....# #.....# ....##. #...... .#..... ......# #.....# #.....#
#.....# .#.#... ......# ......# ...#.#. #...... #...... ......# #.....# #.....#
#.....# ...#... ......# ......# ..#..#. #...... #...... .....#. #.....# #.....#
#.....# ...#... .....#. .....#. .#...#. ######. ######. .....#. .#...#. #.....#
#.....# ...#... ....#.. ..###.. #....#. ......# #.....# ....#.. ..###.. .######
#.....# ...#... ...#... .....#. ####### ......# #.....# ....#.. .#...#. ......#
#.....# ...#... ..#.... ......# .....#. ......# #.....# ...#... #.....# ......#
#.....# ...#... .#..... ......# .....#. ......# #.....# ...#... #.....# ......#
#.....# ...#... #...... ......# .....#. ......# #.....# ..#.... #.....# ......#
.#...#. ...#... #...... #.....# .....#. #.....# #.....# ..#.... #.....# .....#.
..###.. .#####. ####### .#####. .....#. .#####. .#####. ..#.... .#####. .####..
"""


def c3_mask(table: Sequence[Sequence[int]] = C3_TABLE, in_maps: int = 6) -> torch.Tensor:
    """The connection table as a boolean matrix ``(out_maps, in_maps)``: True = connected."""
    mask = torch.zeros(len(table), in_maps, dtype=torch.bool)
    for out_map, inputs in enumerate(table):
        mask[out_map, list(inputs)] = True
    return mask


def rbf_centres(bitmaps: str = RBF_BITMAPS) -> torch.Tensor:
    """The drawings as a ``(classes, 84)`` tensor of +1 (ink) and -1 (background), each
    flattened row by row."""
    lines = [line.split() for line in bitmaps.strip().splitlines()]
    digits = ["".join(line[d] for line in lines) for d in range(len(lines[0]))]
    return torch.tensor([[1.0 if c == "#" else -1.0 for c in digit] for digit in digits])


class ScaledTanh(nn.Module):
    """``A tanh(S x)`` with A = 1.7159, S = 2/3 (appendix A): f(1) = 1 and f(-1) = -1.

    The gain f' is largest at 0 (A S, about 1.14) and stays near 1 over the units'
    usual range; the curvature |f''| is largest near +-1 (at +-0.99), so the targets +-1
    sit where the curve bends most, on its responsive part rather than in the flat
    tails."""

    def __init__(self, amplitude: float = 1.7159, slope: float = 2 / 3) -> None:
        super().__init__()
        self.amplitude = amplitude
        self.slope = slope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.amplitude * torch.tanh(self.slope * x)


class Subsampling(nn.Module):
    """S2 / S4: each unit adds a 2x2 block of its map, multiplies the sum by the map's
    trainable coefficient and adds the map's trainable bias (2 parameters per map)."""

    def __init__(self, channels: int, kernel_size: int = 2) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel_size
        block_sum = F.avg_pool2d(x, k) * (k * k)
        return block_sum * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


class SparseConv2d(nn.Module):
    """A convolution in which output map ``o`` reads only the input maps ``table[o]``.

    One ``kernel_size`` x ``kernel_size`` kernel per connection (``weight`` is
    ``(connections, k, k)``) and one bias per output map, so the parameter count is the
    paper's. The forward pass scatters the kernels into a dense ``(out, in, k, k)``
    weight, zero off the table, and runs one ordinary convolution: on a CPU that is ten
    times faster than convolving each connection on its own, at the price of
    multiplying by the zeros (a MAC counter sees a full 6 -> 16 convolution).
    """

    def __init__(self, in_channels: int, table: Sequence[Sequence[int]],
                 kernel_size: int = 5) -> None:
        super().__init__()
        pairs = [(o, i) for o, inputs in enumerate(table) for i in inputs]
        self.in_channels = in_channels
        self.out_channels = len(table)
        self.kernel_size = kernel_size
        self.register_buffer("out_index", torch.tensor([o for o, _ in pairs]))
        self.register_buffer("in_index", torch.tensor([i for _, i in pairs]))
        self.weight = nn.Parameter(torch.empty(len(pairs), kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(self.out_channels))
        bound = 1 / math.sqrt(max(len(inputs) for inputs in table) * kernel_size ** 2)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    def dense_weight(self) -> torch.Tensor:
        """The equivalent ``nn.Conv2d`` weight ``(out, in, k, k)``, zero where not
        connected."""
        k = self.kernel_size
        full = self.weight.new_zeros(self.out_channels, self.in_channels, k, k)
        return full.index_put((self.out_index, self.in_index), self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.dense_weight(), self.bias)


class EuclideanRBF(nn.Module):
    """One unit per class; its score is minus the squared distance from the input
    vector to the class's fixed centre (a buffer, not a parameter: nothing here is
    trained)."""

    def __init__(self, centres: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("centres", centres.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # ||x - c||^2 = ||x||^2 - 2 x.c + ||c||^2: one matrix product for the batch
        cross = x @ self.centres.T                                     # (N, classes)
        squared = x.pow(2).sum(1, keepdim=True) - 2 * cross + self.centres.pow(2).sum(1)
        return -squared


class LeNet5(nn.Module):
    """C1 - S2 - C3 - S4 - C5 - F6 - output, with pluggable parts.

    c3_table:    ``C3_TABLE`` for the paper's sparse C3, ``None`` for a full 6 -> 16 convolution;
    activation:  builds the nonlinearity after each layer (``ScaledTanh``, ``nn.ReLU``);
    subsampling: ``channels -> module`` for S2 and S4 (``Subsampling``, or max pooling);
    head:        ``in_features -> module`` for the output layer (RBF or linear);
    squash_subsampling: the paper passes S2 and S4 through the activation too; after max
                 pooling of ReLU outputs that would change nothing, so the modern net skips it.
    """

    def __init__(self, c3_table: Sequence[Sequence[int]] | None,
                 activation: Callable[[], nn.Module],
                 subsampling: Callable[[int], nn.Module],
                 head: Callable[[int], nn.Module], squash_subsampling: bool = True) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, kernel_size=5)
        self.act1 = activation()
        self.s2 = subsampling(6)
        self.act2 = activation() if squash_subsampling else None
        self.c3 = (SparseConv2d(6, c3_table, kernel_size=5) if c3_table is not None
                   else nn.Conv2d(6, 16, kernel_size=5))
        self.act3 = activation()
        self.s4 = subsampling(16)
        self.act4 = activation() if squash_subsampling else None
        self.c5 = nn.Conv2d(16, 120, kernel_size=5)
        self.act5 = activation()
        self.flatten = nn.Flatten()
        self.f6 = nn.Linear(120, 84)
        self.act6 = activation()
        self.output = head(84)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.c1(x))        # (N, 6, 28, 28)
        x = self._squash(self.act2, self.s2(x))  # (N, 6, 14, 14)
        x = self.act3(self.c3(x))        # (N, 16, 10, 10)
        x = self._squash(self.act4, self.s4(x))  # (N, 16, 5, 5)
        x = self.act5(self.c5(x))        # (N, 120, 1, 1)
        x = self.flatten(x)              # (N, 120)
        x = self.act6(self.f6(x))        # (N, 84)
        return self.output(x)            # (N, 10)

    @staticmethod
    def _squash(activation: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
        return x if activation is None else activation(x)


def _paper_subsampling(channels: int) -> nn.Module:
    return Subsampling(channels)


def _max_pool(channels: int) -> nn.Module:
    return nn.MaxPool2d(2)


def _paper_init(model: nn.Module) -> None:
    """Appendix A: weights uniform in (-2.4 / F, 2.4 / F), F = the unit's number of inputs."""
    fan_in = {nn.Conv2d: lambda m: m.in_channels * m.kernel_size[0] * m.kernel_size[1],
              nn.Linear: lambda m: m.in_features}
    for module in model.modules():
        if type(module) in fan_in:
            bound = 2.4 / fan_in[type(module)](module)
            nn.init.uniform_(module.weight, -bound, bound)
            nn.init.uniform_(module.bias, -bound, bound)
        elif isinstance(module, SparseConv2d):
            counts = torch.bincount(module.out_index, minlength=module.out_channels)
            bound = (2.4 / (counts[module.out_index] * module.kernel_size ** 2)).view(-1, 1, 1)
            with torch.no_grad():
                module.weight.uniform_(-1, 1).mul_(bound)
                module.bias.uniform_(-1, 1).mul_(2.4 / (counts * module.kernel_size ** 2))
        elif isinstance(module, Subsampling):
            nn.init.uniform_(module.weight, -2.4 / 4, 2.4 / 4)
            nn.init.uniform_(module.bias, -2.4 / 4, 2.4 / 4)


@register_model
def lenet5() -> LeNet5:
    """LeNet-5 as in the paper: Table I's C3, trainable subsampling, scaled tanh, RBF output."""
    model = LeNet5(C3_TABLE, ScaledTanh, _paper_subsampling,
                   lambda features: EuclideanRBF(rbf_centres()))
    _paper_init(model)
    return model


@register_model
def lenet5_modern() -> LeNet5:
    """Today's LeNet-5: full C3, ReLU, 2x2 max pooling and a linear output (61,706 params)."""
    return LeNet5(None, nn.ReLU, _max_pool, lambda features: nn.Linear(features, 10),
                  squash_subsampling=False)
