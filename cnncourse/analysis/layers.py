"""Per-layer costs measured on a real module: output shape, parameters, MACs, activation memory.

``layer_table(model, (3, 224, 224))`` runs ONE forward pass on a single example and records,
for every leaf module that ran, what the book's cost tables show. MACs are measured with
``torch.utils.flop_counter.FlopCounterMode`` (``MACs = FLOPs / 2``), never counted by hand, so
the closed-form formulas in ``arithmetic.py`` can be checked against them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnncourse.probe.tools import count_macs  # noqa: F401 - one implementation, shared

UNLISTED_PARAMS_LABEL = "(parameters outside the rows)"
UNLISTED_MACS_LABEL = "(MACs outside leaf modules)"


@dataclass(frozen=True)
class LayerRow:
    """One leaf module's costs for ONE example (batch size 1).

    name:             qualified module name, as in ``model.named_modules()``;
    type:             class name (``Conv2d``, ``ReLU``, ...);
    output_shape:     shape of the output without the batch dimension (of the first tensor
                      output if the module returns several; of the first call if it ran twice);
    params:           the module's own parameters, trainable or not;
    trainable_params: those with ``requires_grad``;
    macs:             multiply-accumulates, summed over calls when the module ran more than once;
    activation_bytes: bytes of its output tensors, summed over calls;
    calls:            how many times the module ran in the forward pass.
    """

    name: str
    type: str
    output_shape: tuple[int, ...]
    params: int
    trainable_params: int
    macs: int
    activation_bytes: int
    calls: int = 1


@dataclass
class LayerTable:
    """The rows of ``layer_table`` in execution order, with totals and a Markdown rendering.

    ``unlisted_params`` / ``unlisted_trainable_params`` count parameters that belong to no row
    (held by a non-leaf module, e.g. a layer-scale vector, or by a leaf that did not run, e.g.
    an auxiliary classifier that only runs in training), so that ``total_params`` always equals
    ``count_parameters(model)``. ``unlisted_macs`` counts MACs of functional calls made outside
    any leaf module (``x @ w`` inside a block's ``forward``), so ``total_macs`` is the whole
    forward pass.
    """

    rows: list[LayerRow]
    unlisted_params: int = 0
    unlisted_trainable_params: int = 0
    unlisted_macs: int = 0
    input_shape: tuple[int, ...] = field(default=())

    def __iter__(self) -> Iterator[LayerRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, name: str) -> LayerRow:
        """The row of the module called ``name`` (a ``KeyError`` lists the names if absent)."""
        for row in self.rows:
            if row.name == name:
                return row
        raise KeyError(f"no layer named {name!r}; the table has {[r.name for r in self.rows]}")

    @property
    def total_params(self) -> int:
        return sum(r.params for r in self.rows) + self.unlisted_params

    @property
    def total_trainable_params(self) -> int:
        return sum(r.trainable_params for r in self.rows) + self.unlisted_trainable_params

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows) + self.unlisted_macs

    @property
    def total_activation_bytes(self) -> int:
        return sum(r.activation_bytes for r in self.rows)

    def to_markdown(self) -> str:
        """A GitHub-style table: one line per row, thousands separators, a totals line."""
        header = ["layer", "type", "output shape", "params", "MACs", "activation bytes"]
        lines = [_md_line(header), _md_line(["---", "---", "---", "---:", "---:", "---:"])]
        for r in self.rows:
            name = r.name or "(whole model)"
            name = name if r.calls == 1 else f"{name} (x{r.calls})"
            shape = " x ".join(str(d) for d in r.output_shape) or "scalar"
            lines.append(_md_line([name, r.type, shape, f"{r.params:,}", f"{r.macs:,}",
                                   f"{r.activation_bytes:,}"]))
        if self.unlisted_params:
            lines.append(_md_line([UNLISTED_PARAMS_LABEL, "", "", f"{self.unlisted_params:,}",
                                   "0", "0"]))
        if self.unlisted_macs:
            lines.append(_md_line([UNLISTED_MACS_LABEL, "", "", "0", f"{self.unlisted_macs:,}",
                                   "0"]))
        lines.append(_md_line(["**total**", "", "", f"**{self.total_params:,}**",
                               f"**{self.total_macs:,}**",
                               f"**{self.total_activation_bytes:,}**"]))
        return "\n".join(lines)


def _md_line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (shared ones once); only ``requires_grad`` ones if asked."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def _tensors(output) -> list[torch.Tensor]:
    """The tensors in a module's output (a tensor, or a tuple / list / dict of them)."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, list | tuple):
        return [t for item in output for t in _tensors(item)]
    return []


def layer_table(model: nn.Module, input_shape: tuple[int, ...],
                dtype: torch.dtype = torch.float32) -> LayerTable:
    """Measure every leaf module of ``model`` on one input of shape ``input_shape`` (no batch).

    Runs ONE forward pass with batch size 1, in eval mode and under ``torch.no_grad()``, and
    puts every module back in the train/eval mode it was in. A leaf is a module with no
    children; leaves that never run are left out of the rows. Rows are in execution order;
    a module that runs several times gets one row (see ``LayerRow``).

    MACs come from ``FlopCounterMode`` (``FLOPs / 2``): each leaf gets the FLOPs counted
    between the start and the end of its ``forward``. FlopCounterMode counts only matmul- and
    convolution-like operations, so ReLU, pooling, batch norm, dropout and additions show
    0 MACs: they are cheap next to the convolutions but not free, and the book says so where
    it matters. Convolution biases are not counted either (the additions are not MACs).
    """
    if any(not isinstance(d, int) or d < 1 for d in input_shape):
        raise ValueError(f"input_shape is one example's shape without the batch dimension, "
                         f"e.g. (3, 224, 224); got {input_shape!r}")
    leaves = {name: m for name, m in model.named_modules() if not any(True for _ in m.children())}
    first_param = next(model.parameters(), None)
    device = first_param.device if first_param is not None else torch.device("cpu")
    gen = torch.Generator(device=device).manual_seed(0)
    x = torch.randn((1, *input_shape), generator=gen, dtype=dtype, device=device)

    order: list[str] = []
    shapes: dict[str, tuple[int, ...]] = {}
    macs: dict[str, int] = {}
    act_bytes: dict[str, int] = {}
    calls: dict[str, int] = {}
    flops_at_start: dict[str, int] = {}
    counter = FlopCounterMode(display=False)

    def before(name):
        def hook(module, args):
            flops_at_start[name] = counter.get_total_flops()
        return hook

    def after(name):
        def hook(module, args, output):
            flops = counter.get_total_flops() - flops_at_start.pop(name)
            tensors = _tensors(output)
            if name not in calls:
                order.append(name)
                shapes[name] = tuple(tensors[0].shape[1:]) if tensors else ()
            calls[name] = calls.get(name, 0) + 1
            macs[name] = macs.get(name, 0) + flops // 2
            act_bytes[name] = act_bytes.get(name, 0) + sum(
                t.numel() * t.element_size() for t in tensors) // x.shape[0]
        return hook

    modes = {m: m.training for m in model.modules()}
    handles = []
    try:
        for name, module in leaves.items():
            handles.append(module.register_forward_pre_hook(before(name)))
            handles.append(module.register_forward_hook(after(name)))
        model.eval()
        with torch.no_grad(), counter:
            model(x)
    finally:
        for handle in handles:
            handle.remove()
        for module, training in modes.items():
            module.training = training

    rows, seen = [], set()
    for name in order:
        own = [p for p in leaves[name].parameters(recurse=False) if id(p) not in seen]
        seen.update(id(p) for p in own)
        rows.append(LayerRow(
            name=name,
            type=type(leaves[name]).__name__,
            output_shape=shapes[name],
            params=sum(p.numel() for p in own),
            trainable_params=sum(p.numel() for p in own if p.requires_grad),
            macs=macs[name],
            activation_bytes=act_bytes[name],
            calls=calls[name],
        ))
    unlisted = [p for p in model.parameters() if id(p) not in seen]
    return LayerTable(
        rows=rows,
        unlisted_params=sum(p.numel() for p in unlisted),
        unlisted_trainable_params=sum(p.numel() for p in unlisted if p.requires_grad),
        unlisted_macs=counter.get_total_flops() // 2 - sum(macs.values()),
        input_shape=tuple(input_shape),
    )
