"""A cell search space small enough to train every member: the course's tabular benchmark.

NAS-Bench-201 (Dong and Yang 2020) fixes a network's skeleton and searches only a *cell*:
a small directed acyclic graph with 4 nodes. Node 0 is the cell's input; every later node
``j`` is the sum, over the earlier nodes ``i``, of one operation applied to node ``i``; node
3 is the cell's output. That is 6 edges (0->1, 0->2, 1->2, 0->3, 1->3, 2->3), each choosing
one operation. NAS-Bench-201 offers 5 operations (15,625 cells, trained on GPUs); the
course keeps the graph and three of them, so that every one of the 3^6 = 729 cells can be
trained on a CPU:

- ``none``: the edge is absent (it contributes zeros);
- ``skip``: the identity;
- ``conv3x3``: ReLU, a 3x3 convolution, batch norm (NAS-Bench-201's order).

A cell whose output node receives only ``none`` edges outputs zeros: such networks see
nothing and sit at chance. They stay in the table, as in NAS-Bench-201: a search must learn
to avoid them.

The skeleton (``CellNet``): a 3x3 convolution stem to ``width`` channels, then three stages
of one cell each at ``width``, ``2 width`` and ``4 width`` channels, joined by residual
blocks of stride 2 (NAS-Bench-201's reduction), then batch norm, ReLU, global average
pooling and a linear classifier. An architecture is a tuple of 6 operation indices, one per
edge in ``EDGES`` order; every one of the three cells of a network is the same cell.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from cnncourse.nas.space import Decision

OPS: tuple[str, ...] = ("none", "skip", "conv3x3")
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
NODES = 4
CellArch = tuple[int, ...]


def all_cells(ops: tuple[str, ...] = OPS) -> list[CellArch]:
    """Every cell, in a fixed order (the table's order): ``(0, 0, 0, 0, 0, 0)`` first."""
    return list(itertools.product(range(len(ops)), repeat=len(EDGES)))


def cell_index(arch: CellArch, ops: tuple[str, ...] = OPS) -> int:
    """The cell's position in ``all_cells(ops)``: its operations read as a base-``len(ops)``
    number, the first edge the most significant digit."""
    index = 0
    for op in arch:
        index = index * len(ops) + op
    return index


@dataclass(frozen=True)
class CellSpace:
    """The cell space as the searches see it: one decision per edge, each choosing one of
    ``ops`` (what ``Controller`` needs: ``decisions`` with their ``options``)."""

    ops: tuple[str, ...] = OPS

    @property
    def decisions(self) -> tuple[Decision, ...]:
        return tuple(Decision(f"edge {i}->{j}", self.ops) for i, j in EDGES)

    @property
    def size(self) -> int:
        return len(self.ops) ** len(EDGES)

    def label(self, arch: CellArch) -> str:
        return cell_label(arch, self.ops)

    def index(self, arch: CellArch) -> int:
        return cell_index(arch, self.ops)


def cell_label(arch: CellArch, ops: tuple[str, ...] = OPS) -> str:
    """NAS-Bench-201's string: ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|`` (edges into node 1,
    then node 2, then node 3; ``op~i`` is the operation on the edge from node ``i``)."""
    if len(arch) != len(EDGES):
        raise ValueError(f"a cell has {len(EDGES)} edges, got {arch}")
    groups: list[list[str]] = [[] for _ in range(NODES - 1)]
    for (i, j), op in zip(EDGES, arch, strict=True):
        groups[j - 1].append(f"{ops[op]}~{i}")
    return "+".join("|" + "|".join(g) + "|" for g in groups)


def parse_label(label: str, ops: tuple[str, ...] = OPS) -> CellArch:
    """The inverse of ``cell_label``."""
    names = [part.split("~")[0] for group in label.split("+")
             for part in group.strip("|").split("|")]
    return tuple(ops.index(n) for n in names)


def live_edges(arch: CellArch, ops: tuple[str, ...] = OPS) -> list[tuple[int, int]]:
    """The edges that change the output: not ``none``, and on a path from node 0 to node 3
    made of edges that are not ``none`` either."""
    present = [e for e, op in zip(EDGES, arch, strict=True) if ops[op] != "none"]
    reach_from_input, reach_output = {0}, {NODES - 1}
    for i, j in sorted(present):
        if i in reach_from_input:
            reach_from_input.add(j)
    for i, j in sorted(present, key=lambda e: -e[0]):
        if j in reach_output:
            reach_output.add(i)
    return [(i, j) for i, j in present if i in reach_from_input and j in reach_output]


def canonical(arch: CellArch, ops: tuple[str, ...] = OPS) -> CellArch:
    """The same network with every dead edge set to ``none``: cells with the same canonical
    form compute the same function (they differ only in edges that never reach the output)."""
    live = set(live_edges(arch, ops))
    none = ops.index("none")
    return tuple(op if e in live else none for e, op in zip(EDGES, arch, strict=True))


class ReLUConvBN(nn.Module):
    def __init__(self, channels: int, kernel: int) -> None:
        super().__init__()
        self.op = nn.Sequential(nn.ReLU(), nn.Conv2d(channels, channels, kernel,
                                                     padding=kernel // 2, bias=False),
                                nn.BatchNorm2d(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def make_op(name: str, channels: int) -> nn.Module | None:
    """The module on one edge (``None`` for ``none``: the edge adds nothing)."""
    if name == "none":
        return None
    if name == "skip":
        return nn.Identity()
    if name == "conv1x1":
        return ReLUConvBN(channels, 1)
    if name == "conv3x3":
        return ReLUConvBN(channels, 3)
    if name == "avgpool3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    raise ValueError(f"unknown operation {name!r}")


class Cell(nn.Module):
    """Node j = sum over edges (i, j) of op(node i); the output is node 3."""

    def __init__(self, arch: CellArch, channels: int, ops: tuple[str, ...] = OPS) -> None:
        super().__init__()
        self.arch = tuple(arch)
        self.edges = nn.ModuleDict()
        for (i, j), op in zip(EDGES, arch, strict=True):
            module = make_op(ops[op], channels)
            if module is not None:
                self.edges[f"{i}->{j}"] = module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        for j in range(1, NODES):
            total = torch.zeros_like(x)
            for i in range(j):
                key = f"{i}->{j}"
                if key in self.edges:
                    total = total + self.edges[key](nodes[i])
            nodes.append(total)
        return nodes[-1]


class Reduction(nn.Module):
    """NAS-Bench-201's residual block between stages: two 3x3 convolutions, the first of
    stride 2, beside an average pool and a 1x1 convolution that double the channels."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.a = nn.Sequential(nn.ReLU(), nn.Conv2d(in_channels, out_channels, 3, stride=2,
                                                    padding=1, bias=False),
                               nn.BatchNorm2d(out_channels))
        self.b = ReLUConvBN(out_channels, 3)
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, stride=2, ceil_mode=True),
                                      nn.Conv2d(in_channels, out_channels, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.a(x)) + self.shortcut(x)


class CellNet(nn.Module):
    """The skeleton around one cell (see the module docstring)."""

    def __init__(self, arch: CellArch, width: int = 8, cells_per_stage: int = 1,
                 in_channels: int = 3, num_classes: int = 10,
                 ops: tuple[str, ...] = OPS) -> None:
        super().__init__()
        self.arch = tuple(arch)
        layers: list[nn.Module] = [nn.Conv2d(in_channels, width, 3, padding=1, bias=False),
                                   nn.BatchNorm2d(width)]
        channels = width
        for stage in range(3):
            if stage > 0:
                layers.append(Reduction(channels, 2 * channels))
                channels *= 2
            layers += [Cell(arch, channels, ops) for _ in range(cells_per_stage)]
        layers += [nn.BatchNorm2d(channels), nn.ReLU()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x).mean(dim=(2, 3)))


def iter_chunks(n: int, size: int) -> Iterator[range]:
    """``range``s of at most ``size`` consecutive indices covering ``0 .. n-1``."""
    for start in range(0, n, size):
        yield range(start, min(n, start + size))
