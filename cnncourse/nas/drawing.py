"""Diagrams of the cell space (``cnncourse.nas.cell``), drawn from its modules.

``cell_diagram(arch)`` draws one cell as NAS-Bench-201 does: the four nodes in a row, and on
each of the six edges the operation that ``Cell`` actually holds (read from its modules, so
the picture cannot drift from the code). An edge that changes nothing, ``none`` or an
operation not on a path from the input node to the output node, is dashed.
``cell_network_diagram(arch)`` draws the skeleton around the cell (``CellNet``), traced like
the course's other networks.

Both return a ``cnncourse.diagrams.Diagram`` (SVG with alt text) in the course's colours.
"""

from __future__ import annotations

import math

from torch import nn

from cnncourse.diagrams._svg import (
    DETAIL_SIZE,
    TITLE_SIZE,
    Canvas,
    Diagram,
    render,
    text_width,
)
from cnncourse.diagrams._trace import trace_items
from cnncourse.diagrams.blocks import diagram_of
from cnncourse.nas.cell import (
    EDGES,
    NODES,
    OPS,
    Cell,
    CellArch,
    CellNet,
    Reduction,
    ReLUConvBN,
    cell_label,
    live_edges,
)
from cnncourse.palette import GREY, GREY_DARK

SPACING = 190.0     # between nodes
RADIUS = 14.0       # of a node
BOX_H = 24.0
LEVELS = {(0, 2): -62.0, (0, 3): -124.0, (1, 3): 62.0}   # edges that skip a node: y of the arc
EXIT = {(0, 2): 6.0, (0, 3): -6.0}                      # two arcs leave node 0 side by side


def edge_text(module: nn.Module | None) -> tuple[str, str | None]:
    """(what the edge computes, its box's colour role; ``None``: no box) from its module."""
    if module is None:
        return "none", None
    if isinstance(module, nn.Identity):
        return "skip (identity)", "merge"
    if isinstance(module, ReLUConvBN):
        k = module.op[1].kernel_size[0]
        return f"ReLU, {k}×{k} conv, BN", "conv" if k > 1 else "pointwise"
    if isinstance(module, nn.AvgPool2d):
        k = module.kernel_size
        return f"{k}×{k} average pool", "pool"
    raise ValueError(f"no drawing for an edge holding a {type(module).__name__}")


def _node_x(i: int) -> float:
    return i * SPACING


def _on_circle(cx: float, dx: float, below: bool) -> tuple[float, float]:
    """The point of node ``cx``'s circle at horizontal offset ``dx``, top or bottom."""
    dy = math.sqrt(RADIUS ** 2 - dx ** 2)
    return cx + dx, dy if below else -dy


def _edge(canvas: Canvas, i: int, j: int, text: str, role: str | None, dashed: bool) -> None:
    """One edge from node i to node j with its operation in a box on the way (or, for
    ``none``, its name in grey)."""
    size = DETAIL_SIZE
    colour = GREY if dashed else GREY_DARK
    width = text_width(text, size) + (16 if role else 8)
    if (i, j) in LEVELS:
        level = LEVELS[i, j]
        below = level > 0
        start = _on_circle(_node_x(i), EXIT.get((i, j), 0.0), below)
        end = _on_circle(_node_x(j), -EXIT.get((i, j), 0.0) if j == 2 else 0.0, below)
        mid = (start[0] + end[0]) / 2
        first = [start, (start[0], level), (mid - width / 2, level)]
        second = [(mid + width / 2, level), (end[0], level), end]
        cy = level
    else:
        cy, mid = 0.0, (_node_x(i) + _node_x(j)) / 2
        first = [(_node_x(i) + RADIUS, 0.0), (mid - width / 2, 0.0)]
        second = [(mid + width / 2, 0.0), (_node_x(j) - RADIUS, 0.0)]
    canvas.line(first, dashed=dashed, colour=colour)
    canvas.line(second, arrow=True, dashed=dashed, colour=colour)
    if role is None:
        canvas.text(mid, cy, text, size, colour=colour)
    else:
        owner = canvas.box(mid - width / 2, cy - BOX_H / 2, width, BOX_H, role)
        canvas.text(mid, cy, text, size, owner=owner)


def cell_diagram(arch: CellArch, ops: tuple[str, ...] = OPS, channels: int = 8) -> Diagram:
    """One cell: node j is the sum of its incoming edges' operations applied to the earlier
    nodes; what each edge holds is read from ``Cell(arch, channels, ops)``."""
    cell = Cell(arch, channels, ops)
    live = set(live_edges(arch, ops))
    canvas = Canvas()
    said = []
    for i, j in EDGES:
        module = cell.edges[f"{i}->{j}"] if f"{i}->{j}" in cell.edges else None
        text, role = edge_text(module)
        dead = (i, j) not in live
        _edge(canvas, i, j, text, role, dashed=dead)
        if module is not None:
            said.append(f"{i} to {j}: {text}"
                        + (" (unused: not on a path from input to output)" if dead else ""))
    for n in range(NODES):
        owner = canvas.circle(_node_x(n), 0.0, RADIUS)
        canvas.text(_node_x(n), 0.0, str(n), TITLE_SIZE, owner=owner, bold=True)
    canvas.text(-RADIUS - 8, 0.0, "input", DETAIL_SIZE, anchor="end")
    canvas.text(_node_x(NODES - 1) + RADIUS + 8, 0.0, "output", DETAIL_SIZE, anchor="start")
    canvas.text(_node_x(0) - RADIUS - 8, LEVELS[1, 3] + 36,
                "dashed: an edge that changes nothing "
                "(none, or not on a path from node 0 to node 3)",
                DETAIL_SIZE, anchor="start", colour=GREY)
    nones = [f"{i} to {j}" for i, j in EDGES if f"{i}->{j}" not in cell.edges]
    alt = (f"The cell {cell_label(arch, ops)} as a graph of {NODES} nodes in a row, node 0 "
           f"the cell's input and node {NODES - 1} its output; each node sums its incoming "
           "edges. Edges " + "; ".join(said)
           + (f"; none (absent): {', '.join(nones)}" if nones else "") + ".")
    if not live:
        alt += " Nothing reaches the output node: the cell outputs zeros."
    return render(canvas, "A cell of the search space", alt)


def cell_network_diagram(arch: CellArch, ops: tuple[str, ...] = OPS, width: int = 8,
                         in_channels: int = 1, size: int = 14) -> Diagram:
    """The skeleton around the cell (``CellNet``): stem, three stages of one cell each
    joined by residual reductions, global average pooling and the classifier."""
    net = CellNet(arch, width=width, in_channels=in_channels, ops=ops)
    lines: dict[nn.Module, tuple[list[str], str]] = {}
    for m in net.features:
        if isinstance(m, Cell):
            lines[m] = (["the searched cell"], "conv")
        elif isinstance(m, Reduction):
            lines[m] = (["residual reduction", f"stride 2, to {m.a[1].out_channels} channels"],
                        "conv")
    items = trace_items(net, (in_channels, size, size), leaves=(Cell, Reduction), lines=lines)
    headline = ("The network around the searched cell, NAS-Bench-201's skeleton: a 3×3 "
                "convolution stem, three stages of one cell each (every cell the same), "
                "joined by residual blocks of stride 2 that double the channels, then "
                "global average pooling and a linear classifier")
    return diagram_of(items, (in_channels, size, size), "The network around the cell",
                      headline)
