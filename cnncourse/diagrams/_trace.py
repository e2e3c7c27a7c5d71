"""Read a module's dataflow from its ``forward`` (torch.fx) and turn it into layout items.

The module is traced symbolically, so the diagram follows the code: the order of the
layers, where the ReLUs are, which tensor the shortcut reads, what is added or
concatenated. Each layer's label is read from the layer itself (``kernel_size``,
``out_channels``, ``stride``, ``groups``) and each arrow's label from the shape the layer
really outputs on a dummy input. A module without submodules is drawn as one box; a chain
of convolution, normalisation and activation becomes one box whose detail line lists the
normalisation and activation. A fork and the node that joins its branches (an addition, a
product, a concatenation) become a ``Parallel``.

Only series-parallel dataflow is drawn this way (every block of the course but the dense
block, which ``blocks.dense_block`` draws from its own structure).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.fx as fx
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode

from cnncourse.diagrams._layout import Box, Item, Merge, Parallel, Series, Wire
from cnncourse.diagrams._read import describe_module, shape_text
from cnncourse.models.shufflenet import channel_shuffle

# call_function / call_method targets that move data without computing: not drawn
_PASS_FUNCTIONS = {operator.getitem, torch.flatten, "permute", "contiguous", "view",
                   "reshape", "flatten", "transpose"}
_SECONDARY_FUNCTIONS: dict[object, str] = {
    torch.nn.functional.relu: "ReLU", torch.relu: "ReLU", "relu": "ReLU",
    torch.sigmoid: "sigmoid", "sigmoid": "sigmoid", torch.tanh: "tanh",
    torch.nn.functional.gelu: "GELU", torch.nn.functional.silu: "SiLU",
}
_MERGES: dict[object, str] = {operator.add: "+", torch.add: "+", operator.mul: "×",
                              torch.mul: "×", torch.cat: "concat"}


class _Tracer(fx.Tracer):
    """Stops at modules without submodules (and at ``leaves``): each is one box."""

    def __init__(self, leaves: tuple[type, ...]) -> None:
        super().__init__(autowrap_functions=(channel_shuffle,))
        self.leaves = leaves

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return (isinstance(m, self.leaves) or next(m.children(), None) is None
                or super().is_leaf_module(m, qualname))


@dataclass
class _Graph:
    """The traced nodes with data-only nodes removed: each node's users and inputs."""

    nodes: list[fx.Node]
    users: dict[fx.Node, list[fx.Node]]
    inputs: dict[fx.Node, list[fx.Node]]
    order: dict[fx.Node, int]


def _tensor_inputs(node: fx.Node) -> list[fx.Node]:
    return [n for n in node.all_input_nodes if n.op != "get_attr"]


def _passes_through(module_of: Callable[[str], nn.Module], node: fx.Node) -> bool:
    """Nodes that do not change the data a reader cares about: reshapes, identities."""
    if node.op in ("call_function", "call_method"):
        if node.target is torch.cat and len(_tensor_inputs(node)) == 1:
            return True     # concatenating one tensor (a dense layer's first input)
        return node.target in _PASS_FUNCTIONS
    if node.op == "call_module":
        m = module_of(node.target)
        return (isinstance(m, nn.Identity | nn.Flatten)
                or (isinstance(m, nn.Sequential) and len(m) == 0)
                or (float(getattr(m, "p", 1.0)) == 0.0 and type(m).__name__ == "StochasticDepth"))
    return False


def _simplify(graph: fx.Graph, module_of: Callable[[str], nn.Module]) -> _Graph:
    kept = [n for n in graph.nodes
            if n.op not in ("get_attr",) and not _passes_through(module_of, n)]
    alias: dict[fx.Node, fx.Node] = {}

    def real(node: fx.Node) -> fx.Node:
        while node not in kept_set:
            node = alias[node]
        return node

    kept_set = set(kept)
    for n in graph.nodes:
        if n not in kept_set and n.op != "get_attr":
            ins = _tensor_inputs(n)
            if len(ins) != 1:
                raise ValueError(f"cannot draw {n.format_node()}: it reads {len(ins)} tensors")
            alias[n] = ins[0]
    users: dict[fx.Node, list[fx.Node]] = {n: [] for n in kept}
    inputs: dict[fx.Node, list[fx.Node]] = {}
    for n in kept:
        ins = []
        for i in _tensor_inputs(n):
            r = real(i)
            if r not in ins:
                ins.append(r)
        inputs[n] = ins
        for r in ins:
            users[r].append(n)
    return _Graph(kept, users, inputs, {n: i for i, n in enumerate(kept)})


class _Builder:
    """Walks the simplified graph from the input and builds the layout tree."""

    def __init__(self, module: nn.Module, graph: _Graph, prefixes: dict[int, str],
                 lines: dict[int, tuple[list[str], str]]) -> None:
        self.module, self.g = module, graph
        self.prefixes, self.lines = prefixes, lines
        self.merged: set[fx.Node] = set()
        self._reach: dict[fx.Node, set[fx.Node]] = {}

    def reach(self, node: fx.Node) -> set[fx.Node]:
        if node not in self._reach:
            out = {node}
            for u in self.g.users[node]:
                out |= self.reach(u)
            self._reach[node] = out
        return self._reach[node]

    def join_of(self, fork: fx.Node) -> fx.Node:
        common = set.intersection(*(self.reach(u) for u in self.g.users[fork]))
        if not common:
            raise ValueError(f"the branches leaving {fork.name} never meet again")
        return min(common, key=self.g.order.__getitem__)

    def walk(self, node: fx.Node, stop: fx.Node | None) -> list[Item]:
        items: list[Item] = []
        cur: fx.Node | None = node
        while cur is not None and cur is not stop and cur.op != "output":
            if cur not in self.merged:
                self.emit(cur, items)
            users = self.g.users[cur]
            if len(users) <= 1:
                cur = users[0] if users else None
                continue
            join = self.join_of(cur)
            if join.op == "output":   # a side output (an auxiliary head): a tap
                tap, main = sorted(users, key=lambda u: len(self.reach(u)))[:2]
                items.append(Parallel([Wire(), Series(self.walk(tap, join))], None, main=0))
                cur = main
                continue
            items.append(self.fork(cur, join))
            self.merged.add(join)
            cur = join
        return items

    def fork(self, fork: fx.Node, join: fx.Node) -> Parallel:
        branches: list[tuple[int, Item]] = []
        join_inputs = self.g.inputs[join]
        for u in self.g.users[fork]:
            if u is join:
                branches.append((join_inputs.index(fork), Wire("identity")))
                continue
            items = self.walk(u, join)
            last = next(i for i in join_inputs if i in self.reach(u))
            branches.append((join_inputs.index(last), Series(items)))
        branches.sort(key=lambda pair: pair[0])
        parts = [item for _, item in branches]
        merge = self.merge_item(join)
        if isinstance(merge, Merge) and len(parts) == 2:
            # the main path runs on the anchor: for a sum the longer branch, for a gate
            # (a product) the features, not the gate
            size = [len(p.items) if isinstance(p, Series) else 0 for p in parts]
            main = (size.index(min(size)) if merge.symbol == "×" else size.index(max(size)))
            if main == 1:
                parts.reverse()
            if isinstance(parts[1], Wire) and merge.symbol == "×":
                parts[1] = Wire()
            if merge.symbol == "×" and isinstance(parts[0], Wire):
                parts[0] = Wire()
            return Parallel(parts, merge, main=0)
        return Parallel(parts, merge)

    def merge_item(self, join: fx.Node) -> Item:
        symbol = _MERGES.get(join.target)
        out = self.shape(join)
        if symbol is None:
            raise ValueError(f"cannot draw {join.format_node()} as the join of two branches")
        if symbol == "concat":
            return Box("concatenate", "along channels", role="merge", out=out)
        return Merge(symbol, out=out)

    def shape(self, node: fx.Node) -> str | None:
        shape = node.meta.get("shape")
        if shape is None:
            return None
        return shape_text(shape, channels_last=node.meta.get("channels_last", False))

    def emit(self, node: fx.Node, items: list[Item]) -> None:
        if node.op == "placeholder":
            return
        if node.target in _MERGES and len(self.g.inputs[node]) == 1:   # x * gamma
            self.secondary(items, "layer scale", node)
            return
        if node.op == "call_module":
            m = self.module.get_submodule(node.target)
            source = node.args[0] if node.args else None
            reads = source.meta.get("shape") if isinstance(source, fx.Node) else None
            if id(m) in self.lines:
                kind, (lines, role) = "primary", self.lines[id(m)]
            else:
                kind, lines, role = describe_module(m, reads)
            if kind == "secondary":
                self.secondary(items, lines[0], node)
                return
            if id(m) in self.prefixes:
                lines = [f"{self.prefixes[id(m)]}: {lines[0]}", *lines[1:]]
            items.append(Box(*lines, role=role, out=self.shape(node)))
            return
        if node.target in _SECONDARY_FUNCTIONS:
            self.secondary(items, _SECONDARY_FUNCTIONS[node.target], node)
        elif node.target == "mean" and node.kwargs.get("dim", node.args[1:2]) in ((2, 3), [2, 3]):
            items.append(Box("global average pool", role="pool", out=self.shape(node)))
        elif node.target is channel_shuffle:
            items.append(Box("channel shuffle", f"{node.args[1]} groups", role="merge",
                             out=self.shape(node)))
        elif node.target == "chunk":
            items.append(Box("channel split", "into halves", role="merge"))
        else:
            raise ValueError(f"no drawing for {node.format_node()}")

    def secondary(self, items: list[Item], name: str, node: fx.Node) -> None:
        """Normalisations and activations join the box before them, when there is one."""
        last = items[-1] if items else None
        if isinstance(last, Box) and getattr(last, "only_secondary", False):
            last.lines[0] += f", {name}"
            last.out = self.shape(node)
        elif isinstance(last, Box) and last.role not in ("merge", "io"):
            if len(last.lines) == 1:
                last.lines.append(name)
            else:
                last.lines[-1] += f", {name}"
            last.out = self.shape(node)
        else:
            role = "norm" if name in ("BN", "LN", "LRN", "GRN") else "act"
            box = Box(name, role=role, out=self.shape(node))
            box.only_secondary = True
            items.append(box)


def shapes_only() -> FakeTensorMode:
    """Within it, a forward pass computes shapes only (fake tensors): a VGG at 224x224 in
    a tenth of a second instead of seconds."""
    return FakeTensorMode(allow_non_fake_inputs=True)


def device_of(module: nn.Module) -> torch.device:
    """Where the module's weights are: "cpu", or "meta" for one built without weights
    (``with torch.device("meta"): vgg16()``, instant even for 138M parameters)."""
    return next(module.parameters(), torch.zeros(0)).device


class _ShapeRecorder(fx.Interpreter):
    """Runs the traced graph and keeps each node's output shape in ``node.meta``."""

    def run_node(self, n: fx.Node):
        result = super().run_node(n)
        if isinstance(result, torch.Tensor):
            n.meta["shape"] = tuple(result.shape)
        return result


def trace_items(module: nn.Module, input_shape: tuple[int, ...], *,
                leaves: tuple[type, ...] = (), prefixes: dict[nn.Module, str] | None = None,
                lines: dict[nn.Module, tuple[list[str], str]] | None = None,
                training: bool = False) -> list[Item]:
    """The layout items of ``module``'s forward on an input of ``input_shape`` (no batch
    dimension), in order.

    leaves:   module classes drawn as one box (GoogLeNet's inception modules);
    prefixes: a name put before a layer's title ("C1" for LeNet-5's first layer);
    lines:    a layer's text and role, replacing what ``describe_module`` would say;
    training: trace the training-mode forward (GoogLeNet's auxiliary heads).
    """
    was_training = module.training
    module.train(training)
    try:
        graph = _Tracer(leaves).trace(module)
        with shapes_only():   # batch 2: batch norm in training mode needs more than 1
            x = torch.zeros(2, *input_shape, device=device_of(module))
            _ShapeRecorder(fx.GraphModule(module, graph)).run(x)
    finally:
        module.train(was_training)
    channels_last = False
    for node in graph.nodes:   # which tensors are (N, H, W, C): ConvNeXt's MLP
        if node.target == "permute":
            dims = tuple(node.args[1:]) if len(node.args) > 2 else tuple(node.args[1])
            channels_last = dims == (0, 2, 3, 1)
        node.meta["channels_last"] = channels_last
    simple = _simplify(graph, module.get_submodule)
    start = next(n for n in simple.nodes if n.op == "placeholder")
    by_id = {id(k): v for k, v in (prefixes or {}).items()}
    texts = {id(k): v for k, v in (lines or {}).items()}
    return _Builder(module, simple, by_id, texts).walk(start, None)
