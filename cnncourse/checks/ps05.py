"""Checkers for problem set 5: ResNet (the basic and the bottleneck block, a ResNet from its
block counts, zero-initialised residuals, squeeze-and-excitation, ResNeXt's grouped
convolution as separate paths).

One ``check_<thing>(student_obj, hidden=False)`` per graded part; ``hidden=True`` adds cases
drawn from the distributions below (the grader draws them from the course's secret). The
student's classes and functions stay with the probe (``cnncourse.probe``), which builds and
runs them; this module is the judge and works on what the probe sends back.

- Blocks are compared with the course's reference (``cnncourse.models.resnet``): output
  shape, parameter count, then the outputs once the reference's (randomised) weights are
  copied into the student's module in registration order (conv1, bn1, conv2, bn2, ..., then
  the shortcut's conv and BN). Both run in training mode, so batch norm uses the batch's
  statistics.
- ``make_resnet`` is given block classes the probe builds from plain torch
  (``fixtures.recording_block``): without weights, they record how they are built and what
  they are called on. A network's parameter count is then the student's own layers (stem,
  classifier) plus the course's block of each kind the student registered.
- ``zero_init_last_bn`` is given a look-alike of the course's block (same children, weights
  and statistics, its ``expansion``); the judge reads back what it changed.

Each checker raises ``AssertionError`` on the first wrong case, with a hint naming the
mistake when it is a known one, and prints one line on success.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.checks._core import (
    Call,
    Guard,
    answer_of,
    check_close,
    check_int,
    check_module,
    check_shape,
    check_type,
    checker,
    diagnose,
    fail,
    generator,
    hidden_rng,
    layers_of,
    made_near,
    parameter_count,
    randn,
    report_success,
    run_module,
    seed_from,
    type_name,
    value_of,
)
from cnncourse.models import resnet
from cnncourse.probe.fixtures import module_spec
from cnncourse.probe.wire import Make

REFERENCES = ("cnncourse.models.resnet", "cnncourse.models.preact_resnet")

# F.conv2d is allowed in the grouped part, but only without groups (argument 6): each path
# is a plain convolution. The probe's guard traps the function wherever it is bound
# (torch.conv2d is the same one); the grader's source scan leaves such conditions to it.
CONV2D_WITHOUT_GROUPS = {"path": "torch.nn.functional.conv2d",
                         "unless": {"name": "groups", "position": 6, "equals": 1, "default": 1}}
FORBIDDEN = {  # part -> (the graded function, what it may not call); read by the grader too
    "grouped": ("split_transform_merge", (CONV2D_WITHOUT_GROUPS,)),
}
TOOLS = ()  # the setup cell imports only the check_* functions


class _Shown(Call):
    """A call whose arguments would print badly (a module, a class): shown as given."""

    def __init__(self, shown: str, name: str, args: Sequence[tuple[str | None, Any]],
                 kwargs: dict[str, Any] | None = None) -> None:
        super().__init__(name, args, kwargs or {})
        self.shown = shown

    def __str__(self) -> str:
        return self.shown


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _build(guard: Guard, call: Call) -> Any:
    """The student's module, built by the probe; a handle to it."""
    return check_module(guard.call(call), call, "the block",
                        "subclass nn.Module and call super().__init__() first.",
                        references=guard.references)


def _randomise(module: nn.Module, seed: int) -> None:
    """Weights from a private generator (the global seed is untouched), He-scaled convs and
    BN scales and shifts away from 1 and 0, so that every mistake changes the output."""
    gen = generator(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.3 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.3 * torch.randn(m.bias.shape, generator=gen))
            elif isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) / m.in_features ** 0.5)
                m.bias.copy_(0.5 * torch.randn(m.bias.shape, generator=gen))


def _shapes(state: dict) -> list:
    return [tuple(v.shape) if isinstance(v, torch.Tensor) else type_name(v)
            for v in state.values()]


def _copy_weights(source: nn.Module, target: Any, call: Call, order: str, layers: str) -> None:
    """Copy ``source``'s parameters and buffers into the student's ``target``, entry by
    entry in order (the names may differ, the shapes may not)."""
    src = source.state_dict()
    hint = (f"create the layers in __init__ in this order: {order}; plain {layers}, nothing "
            "else with weights.")
    dst = value_of(target.state(), call, hint)
    if not isinstance(dst, dict) or _shapes(src) != _shapes(dst):
        dst = dst if isinstance(dst, dict) else {}
        fail(call, f"could not copy the reference's weights into your module: expected "
                   f"{len(src)} parameter and buffer tensors of shapes {_shapes(src)}, got "
                   f"{len(dst)} of shapes {_shapes(dst)}.", hint)
    value_of(target.load(dict(zip(dst, src.values(), strict=True))), call, hint)


# =========================================================================== blocks (1 and 2)
@dataclass(frozen=True)
class _BlockCase:
    in_channels: int
    planes: int
    stride: int
    size: int
    seed: int = 0  # the reference's weights; the input comes from seed + 1

    def call(self, name: str) -> Call:
        return Call(name, [(None, self.in_channels), (None, self.planes)],
                    {"stride": self.stride})

    def input(self) -> torch.Tensor:
        return randn((2, self.in_channels, self.size, self.size), self.seed + 1)


def _block_variant(reference: nn.Module, x: torch.Tensor, stride: int, *, stride_at: int,
                   relu_before_add: bool = False, final_relu: bool = True) -> torch.Tensor:
    """What a known-wrong block computes with the reference's weights (training-mode BN)."""
    convs = [m for name, m in reference.named_children() if name.startswith("conv")]
    norms = [m for name, m in reference.named_children() if name.startswith("bn")]
    out = x
    for i, (conv, bn) in enumerate(zip(convs, norms, strict=True)):
        out = F.conv2d(out, conv.weight, stride=stride if i == stride_at else 1,
                       padding=conv.kernel_size[0] // 2)
        out = F.batch_norm(out, None, None, bn.weight, bn.bias, training=True)
        if i < len(convs) - 1 or relu_before_add:
            out = F.relu(out)
    out = out + reference.shortcut(x)
    return F.relu(out) if final_relu else out


def _params_hint(got: int, reference: nn.Module, in_channels: int, out_channels: int,
                 stride: int, general: str) -> str:
    """Name the mistake a wrong parameter count points to."""
    expected = _count(reference)
    projects = not isinstance(reference.shortcut, nn.Identity)
    projection = in_channels * out_channels + 2 * out_channels
    conv_biases = sum(m.out_channels for m in reference.modules() if isinstance(m, nn.Conv2d))
    if got in (expected + conv_biases, expected + conv_biases - projects * out_channels):
        return "the convolutions have no bias (bias=False): the BN after each has a shift."
    if projects and got == expected - 2 * out_channels:
        return "the projection shortcut needs its BatchNorm2d after the 1x1 conv."
    if projects and got == expected - projection:
        return (f"the shape changes here (stride {stride}, {in_channels} -> {out_channels} "
                "channels), so the shortcut must be a projection: a 1x1 conv with the block's "
                "stride, then a BatchNorm2d.")
    if not projects and got == expected + projection:
        return (f"the shape does not change here (stride 1, {in_channels} -> {out_channels} "
                "channels): the shortcut is the identity, with no projection.")
    return general


def _check_block(student_cls: Any, name: str, cases: list[_BlockCase], order: str,
                 hints: dict[str, str], mistakes: Callable[[], list], hidden: bool) -> None:
    """Shape, parameters, then values with the reference's weights, case by case."""
    answer = answer_of(student_cls, name, REFERENCES, what="a class")
    reference_cls = getattr(resnet, name)
    expansion = reference_cls.expansion
    found = answer.getattr("expansion").get("ok")  # None when missing
    if found != expansion:
        fail(name, f"expected a class attribute expansion = {expansion}, got {found!r}.",
             f"the block outputs {expansion} * planes channels; say so with `expansion = "
             f"{expansion}` in the class body.")
    guard = Guard(answer, name, references=REFERENCES)
    for case in cases:
        call = case.call(name)
        block = _build(guard, call)
        reference = reference_cls(case.in_channels, case.planes, case.stride).train()
        _randomise(reference, case.seed)
        out_channels = case.planes * expansion
        got_params, expected_params = parameter_count(block), _count(reference)

        def params_hint(got: int = got_params, ref: nn.Module = reference,
                        c: tuple = (case.in_channels, out_channels, case.stride)) -> str:
            return _params_hint(got, ref, *c, hints["params"])

        x = case.input()
        y = run_module(block, [x], call, params_hint if got_params != expected_params
                       else hints["shape"], train=True)
        check_type(y, torch.Tensor, call, "the output")
        side = (case.size - 1) // case.stride + 1
        check_shape(y, (2, out_channels, side, side), call, "output", hints["shape"])
        check_int(got_params, expected_params, call, "parameters", params_hint)
        _copy_weights(reference, block, call, order, "nn.Conv2d and nn.BatchNorm2d")
        got = run_module(block, [x], call, hints["values"], train=True)
        with torch.no_grad():
            expected = reference(x)
        check_close(got, expected, call, "with the reference's weights, the output",
                     lambda g=got, r=reference, xs=x, s=case.stride: diagnose(
                         g, [(hint, lambda f=f: f(r, xs, s)) for hint, f in mistakes()],
                         hints["values"]))
    report_success(name, len(cases), hidden)


def _width(rng: random.Random, low: int, high: int, unlike: int | None = None) -> int:
    """A width in [low, high], other than ``unlike``."""
    return rng.choice([c for c in range(low, high + 1) if c != unlike])


def _shortcut_kinds(rng: random.Random, planes: Callable[[], int], expansion: int
                    ) -> list[_BlockCase]:
    """One block of each kind of shortcut, in a random order: the identity; a projection for
    the stride alone, for the width alone (stride 1), and for both."""
    def case(in_channels: int, p: int, stride: int) -> _BlockCase:
        return _BlockCase(in_channels, p, stride, rng.randint(3, 9), seed_from(rng))

    same = [planes() for _ in range(2)]
    other = [planes() for _ in range(2)]
    wider = [_width(rng, 2, 32, unlike=p * expansion) for p in other]
    cases = [case(same[0] * expansion, same[0], 1), case(same[1] * expansion, same[1], 2),
             case(wider[0], other[0], 1), case(wider[1], other[1], 2)]
    rng.shuffle(cases)
    return cases


# --------------------------------------------------------------------------- 1. BasicBlock
BASIC_CASES = [_BlockCase(16, 16, 1, 8, seed=500), _BlockCase(16, 32, 2, 8, seed=510)]
BASIC_ORDER = "conv1, bn1, conv2, bn2, then the shortcut's 1x1 conv and its BN"


def basic_hidden(rng: random.Random) -> list[_BlockCase]:
    """Four hidden BasicBlocks, one per kind of shortcut; the width change at stride 1 is what
    a block that projects only when it strides gets wrong."""
    return _shortcut_kinds(rng, lambda: rng.randint(2, 24), expansion=1)


def _basic_mistakes() -> list:
    return [
        ("no ReLU on the branch before the addition: conv1-bn1-ReLU, conv2-bn2, add the "
         "shortcut, THEN the ReLU.",
         lambda r, x, s: _block_variant(r, x, s, stride_at=0, relu_before_add=True)),
        ("the stride belongs on the first 3x3 conv (conv1), not on conv2.",
         lambda r, x, s: _block_variant(r, x, s, stride_at=1)),
        ("the block ends with a ReLU after the addition: relu(branch + shortcut).",
         lambda r, x, s: _block_variant(r, x, s, stride_at=0, final_relu=False)),
    ]


@checker
def check_basic_block(student_cls: Any, hidden: bool = False) -> None:
    """``BasicBlock(in_channels, planes, stride=1)``: two 3x3 convs and a shortcut."""
    _check_block(student_cls, "BasicBlock",
                 BASIC_CASES + (basic_hidden(hidden_rng()) if hidden else []), BASIC_ORDER, {
                     "shape": "the block outputs planes channels; the stride belongs on conv1 "
                              "and on the shortcut, and both 3x3 convs have padding 1.",
                     "params": "two 3x3 convs without bias, each with a BatchNorm2d; a "
                               "projection shortcut (1x1 conv and BatchNorm2d) only when the "
                               "stride is not 1 or the channel count changes.",
                     "values": "relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), with the "
                               f"layers created in the order {BASIC_ORDER}.",
                 }, _basic_mistakes, hidden)


# --------------------------------------------------------------------------- 2. Bottleneck
BOTTLENECK_CASES = [_BlockCase(64, 16, 1, 6, seed=600), _BlockCase(32, 16, 2, 8, seed=610)]
BOTTLENECK_ORDER = "conv1, bn1, conv2, bn2, conv3, bn3, then the shortcut's 1x1 conv and its BN"


def bottleneck_hidden(rng: random.Random) -> list[_BlockCase]:
    """Four hidden Bottlenecks, one per kind of shortcut (the identity needs in_channels =
    4 * planes)."""
    return _shortcut_kinds(rng, lambda: rng.randint(2, 8), expansion=4)


def _bottleneck_mistakes() -> list:
    return [
        ("the stride belongs on the 3x3 conv (conv2), not on the first 1x1: a 1x1 conv with "
         "stride 2 never reads three pixels in four.",
         lambda r, x, s: _block_variant(r, x, s, stride_at=0)),
        ("the stride belongs on the 3x3 conv (conv2), not on the last 1x1.",
         lambda r, x, s: _block_variant(r, x, s, stride_at=2)),
        ("no ReLU on the branch before the addition: bn3's output is added to the shortcut "
         "as it is, THEN the ReLU.",
         lambda r, x, s: _block_variant(r, x, s, stride_at=1, relu_before_add=True)),
        ("the block ends with a ReLU after the addition: relu(branch + shortcut).",
         lambda r, x, s: _block_variant(r, x, s, stride_at=1, final_relu=False)),
    ]


@checker
def check_bottleneck(student_cls: Any, hidden: bool = False) -> None:
    """``Bottleneck(in_channels, planes, stride=1)``: 1x1 - 3x3 - 1x1 (x4) and a shortcut."""
    _check_block(student_cls, "Bottleneck",
                 BOTTLENECK_CASES + (bottleneck_hidden(hidden_rng()) if hidden else []),
                 BOTTLENECK_ORDER, {
                     "shape": "the block outputs planes * expansion = 4 * planes channels "
                              "(conv3 and the projection), and the stride halves the map once, "
                              "on the 3x3 conv (padding 1).",
                     "params": "1x1 (in -> planes), 3x3 (planes -> planes), 1x1 (planes -> "
                               "4 * planes), all without bias, each with a BatchNorm2d; a "
                               "projection only when the stride is not 1 or in_channels != "
                               "4 * planes.",
                     "values": "relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))) + "
                               "shortcut(x)), stride on conv2, with the layers created in the "
                               f"order {BOTTLENECK_ORDER}.",
                 }, _bottleneck_mistakes, hidden)


# =========================================================================== 3. make_resnet
STAGE_PLANES = (64, 128, 256, 512)
STEM_PARAMETERS = 3 * 64 * 7 * 7 + 2 * 64  # the 7x7 conv without bias, its BN


@dataclass(frozen=True)
class _CountCase:
    """A real ResNet: the course's blocks, counted with the student's stem and classifier."""

    block: type[nn.Module]
    layers: tuple[int, int, int, int]
    num_classes: int = 1000
    label: str = ""

    def shown(self) -> str:
        classes = "" if self.num_classes == 1000 else f", num_classes={self.num_classes}"
        that_is = f" (that is {self.label})" if self.label else ""
        return f"make_resnet({self.block.__name__}, {self.layers}{classes}){that_is}"


RESNET_CASES = [_CountCase(resnet.BasicBlock, (2, 2, 2, 2), label="resnet18"),
                _CountCase(resnet.BasicBlock, (3, 4, 6, 3), label="resnet34"),
                _CountCase(resnet.Bottleneck, (3, 4, 6, 3), label="resnet50")]
PLAN_CASES = [(1, (2, 2, 2, 2)), (4, (3, 4, 6, 3))]      # (expansion, layers)
PLAN_SIZE = 64
RESNET_HINT = ("stem: Conv2d(3, 64, 7, stride=2, padding=3, bias=False), BatchNorm2d(64), "
               "ReLU, MaxPool2d(3, stride=2, padding=1); then the blocks; then "
               "AdaptiveAvgPool2d(1), flatten, Linear(512 * block.expansion, num_classes).")


def plan_hidden(rng: random.Random) -> list[tuple[int, tuple[int, int, int, int]]]:
    """Three hidden block plans with recording blocks, expansions 1, 4 and one the course
    has no block for (2, 3 or 6), in a random order; 1 to 4 blocks per stage."""
    expansions = [1, 4, rng.choice((2, 3, 6))]
    rng.shuffle(expansions)
    return [(e, tuple(rng.randint(1, 4) for _ in range(4))) for e in expansions]


def count_hidden(rng: random.Random) -> list[_CountCase]:
    """Two hidden networks to count, one of each block, deep (as deep as ResNet-152 in the
    third stage) and with another number of classes."""
    def draw(block: type[nn.Module]) -> _CountCase:
        layers = (rng.randint(1, 4), rng.randint(1, 8), rng.randint(1, 36), rng.randint(1, 4))
        return _CountCase(block, layers, rng.randint(2, 1000))

    return [draw(resnet.BasicBlock), draw(resnet.Bottleneck)]


def expected_blocks(expansion: int, layers: Sequence[int]) -> list[tuple[int, int, int]]:
    """The ``(in_channels, planes, stride)`` of every block of a ResNet, in order."""
    built, channels = [], STAGE_PLANES[0]
    for i, (planes, count) in enumerate(zip(STAGE_PLANES, layers, strict=True)):
        for j in range(count):
            built.append((channels, planes, 2 if i > 0 and j == 0 else 1))
            channels = planes * expansion
    return built


@functools.cache
def block_parameters(block: type[nn.Module], in_channels: int, planes: int, stride: int
                     ) -> int:
    """Parameters of one of the course's blocks (built on the meta device: no weights)."""
    with torch.device("meta"):
        return _count(block(in_channels, planes, stride))


def resnet_parameters(block: type[nn.Module], layers: Sequence[int], num_classes: int) -> int:
    """Parameters of the course's ResNet with these blocks: stem, blocks, classifier."""
    blocks = sum(block_parameters(block, *args)
                 for args in expected_blocks(block.expansion, layers))
    return STEM_PARAMETERS + blocks + (512 * block.expansion + 1) * num_classes


def _recording_block(answer: Any, name: str, expansion: int) -> Any:
    """A recording block class, made on the probe's side (a handle to it)."""
    return made_near(answer, Make("recording_block", {"name": name, "expansion": expansion}))


def _describe_block(args: Sequence[Any]) -> str:
    return f"block({args[0]}, {args[1]}, stride={args[2]})"


def _first_difference(got: list, want: list) -> int | None:
    """Index of the first differing entry of two lists, None when one starts the other."""
    return next((k for k, (g, w) in enumerate(zip(got, want, strict=False)) if g != w), None)


def _blocks_hint(got: list, want: list) -> str:
    first = _first_difference(got, want)
    if first is None:
        return "one block per entry of layers: layers[i] blocks in stage i."
    g, w = got[first], want[first]
    if g[2] != w[2]:
        return ("stride 2 on the first block of stages 2, 3 and 4 only, stride 1 everywhere "
                "else (the stem's max pool has already halved the map before stage 1).")
    if g[0] != w[0]:
        return ("a block outputs planes * block.expansion channels: that is the next "
                "block's in_channels.")
    return "the stages have planes 64, 128, 256 and 512."


def _recorded(block: Any, what: str, width: int, call: Call) -> list[tuple]:
    """What a recording block class recorded, as tuples of ``width`` entries (the student's
    code could have changed the record: whatever it holds, it cannot break the judge)."""
    got = value_of(block.getattr(what), call)
    entries = [tuple(e) if isinstance(e, list | tuple) else (e,)
               for e in (got if isinstance(got, list) else [])]
    return [(e + (None,) * width)[:width] for e in entries]


def _check_plan(guard: Guard, expansion: int, layers: tuple[int, ...]) -> None:
    """Build with recording blocks: which blocks, in what order, where they run."""
    block = _recording_block(guard.answer, "block", expansion)
    call = _Shown(f"make_resnet(block with expansion={expansion}, {layers}, num_classes=7)",
                  "make_resnet", [(None, block), (None, layers)], {"num_classes": 7})
    model = check_module(guard.call(call), call, "the network",
                         "return an nn.Module (nn.Sequential will do).", references=REFERENCES)
    want = expected_blocks(expansion, layers)
    got = _recorded(block, "built", 3, call)
    if got != want:
        first = _first_difference(got, want)
        if first is None:
            fail(call, f"expected {len(want)} blocks ({' + '.join(map(str, layers))}), "
                       f"got {len(got)}.", _blocks_hint(got, want))
        fail(call, f"block {first + 1} of {len(want)}: expected {_describe_block(want[first])}, "
                   f"got {_describe_block(got[first])}.", _blocks_hint(got, want))
    linears = [layer for layer in layers_of(model) if layer.is_a("Linear")]
    if linears and linears[-1].attr("in_features") != 512 * expansion:
        fail(call, f"the final Linear takes {linears[-1].attr('in_features')} features, "
                   f"expected {512 * expansion} = 512 * block.expansion.",
             "the last stage outputs 512 * block.expansion channels, pooled to one value each: "
             "Linear(512 * block.expansion, num_classes).")
    x = randn((2, 3, PLAN_SIZE, PLAN_SIZE), seed=70)
    y = run_module(model, [x], call, "use every block once, in order, after the stem; "
                                     + RESNET_HINT)
    inputs = _recorded(block, "inputs", 4, call)
    if inputs and inputs[0][2:] != (PLAN_SIZE // 4, PLAN_SIZE // 4):
        fail(call, f"on an input of {PLAN_SIZE}x{PLAN_SIZE} the first block should get a "
                   f"{PLAN_SIZE // 4}x{PLAN_SIZE // 4} map, got "
                   f"{inputs[0][2]}x{inputs[0][3]}.",
             "the stem divides the size by 4: the 7x7 conv with stride 2 and padding 3, then "
             "MaxPool2d(3, stride=2, padding=1).")
    if len(inputs) != len(want):
        fail(call, f"expected each of the {len(want)} blocks to run once in the forward pass, "
                   f"got {len(inputs)} block calls.", "x = block(x) for every block.")
    check_type(y, torch.Tensor, call, "the output")
    check_shape(y, (2, 7), call, "output", RESNET_HINT)


def _count_hint(got: int, expected: int) -> str:
    delta = got - expected
    known = {64: "the stem's 7x7 conv has no bias (bias=False): a BN follows it.",
             -128: "the stem has a BatchNorm2d(64) after its 7x7 conv.",
             -1000: "the final Linear has a bias."}
    return known.get(delta, f"you have {delta:+,} parameters; " + RESNET_HINT)


def _check_count(guard: Guard, case: _CountCase) -> None:
    """The network's parameters: the student's own layers, plus one of the course's blocks
    for each recording block registered in it (a block kept in a plain list is not)."""
    cls = case.block
    block = _recording_block(guard.answer, cls.__name__, cls.expansion)
    mro = block.info([]).get("mro")
    block_type = mro[0] if isinstance(mro, list) and mro else ""  # its instances' type
    kwargs = {} if case.num_classes == 1000 else {"num_classes": case.num_classes}
    call = _Shown(case.shown(), "make_resnet", [(None, block), (None, case.layers)], kwargs)
    model = check_module(guard.call(call), call, "the network", references=REFERENCES)
    got = 0
    for layer in layers_of(model):  # shapes, not values: a classifier's weights stay put
        got += sum(torch.Size(shape).numel() for _, shape, _ in layer.params)
        in_channels, out_channels, stride = (layer.attr(key) for key in (
            "in_channels", "out_channels", "stride"))
        args = (in_channels, out_channels // cls.expansion if isinstance(out_channels, int)
                else None, stride)
        if layer.type == block_type and all(isinstance(a, int) and 0 < a <= 1 << 16
                                            for a in args):
            got += block_parameters(cls, *args)
    expected = resnet_parameters(cls, case.layers, case.num_classes)
    check_int(got, expected, call, f"parameters of {case.label or 'this ResNet'}",
              lambda: _count_hint(got, expected))


@checker
def check_make_resnet(student_fn: Any, hidden: bool = False) -> None:
    """``make_resnet(block, layers, num_classes=1000)``: a ResNet from its block counts."""
    name = "make_resnet"
    answer = answer_of(student_fn, name, REFERENCES)
    rng = hidden_rng()
    plans = PLAN_CASES + (plan_hidden(rng) if hidden else [])
    counts = RESNET_CASES + (count_hidden(rng) if hidden else [])
    guard = Guard(answer, name, references=REFERENCES)
    for expansion, layers in plans:
        _check_plan(guard, expansion, layers)
    for case in counts:
        _check_count(guard, case)
    report_success(name, len(plans) + len(counts), hidden)


# =========================================================================== 4. zero init
@dataclass(frozen=True)
class _ZeroCase:
    block: type[nn.Module]
    in_channels: int
    planes: int
    stride: int
    seed: int = 0  # the BN scales and statistics; the input comes from seed + 1

    @property
    def last(self) -> str:
        return "bn2" if self.block is resnet.BasicBlock else "bn3"

    def shown(self) -> str:
        return (f"{self.block.__name__}({self.in_channels}, {self.planes}, "
                f"stride={self.stride})")

    def build(self) -> nn.Module:
        """The course's block with random scales and statistics; the shifts stay 0, as at
        initialisation, so that only the LAST scale at 0 gives relu(shortcut(x))."""
        block = self.block(self.in_channels, self.planes, self.stride).eval()
        gen = generator(self.seed)
        with torch.no_grad():
            for m in block.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5, generator=gen)
                    m.running_mean.uniform_(-1.0, 1.0, generator=gen)
                    m.running_var.uniform_(0.5, 1.5, generator=gen)
        return block


ZERO_CASES = [_ZeroCase(resnet.BasicBlock, 16, 16, 1, seed=80),
              _ZeroCase(resnet.Bottleneck, 64, 16, 1, seed=81)]


def zero_hidden(rng: random.Random) -> list[_ZeroCase]:
    """Four hidden blocks, each kind with an identity and with a projection shortcut (whose
    BN comes last in ``block.modules()``, but is not on the branch), in a random order."""
    def draw(block: type[nn.Module], project: bool) -> _ZeroCase:
        planes = rng.randint(2, 16)
        width = planes * block.expansion
        stride = rng.choice((1, 2)) if project else 1
        in_channels = (_width(rng, 2, 64, unlike=width) if project and stride == 1
                       else width)
        return _ZeroCase(block, in_channels, planes, stride, seed_from(rng))

    cases = [draw(block, project) for block in (resnet.BasicBlock, resnet.Bottleneck)
             for project in (False, True)]
    rng.shuffle(cases)
    return cases


def _changed(before: dict, after: Any) -> list[str]:
    """The entries of a state dict that differ, appeared or disappeared."""
    after = after if isinstance(after, dict) else {}
    changed = [key for key, value in after.items() if key not in before
               or not isinstance(value, torch.Tensor) or value.shape != before[key].shape
               or not torch.equal(value, before[key])]
    return changed + [key for key in before if key not in after]


@checker
def check_zero_init_last_bn(student_fn: Any, hidden: bool = False) -> None:
    """``zero_init_last_bn(block)``: zero the last BN's scale of the residual branch in place,
    so the block computes relu(shortcut(x)), which is relu(x) with an identity shortcut."""
    name = "zero_init_last_bn"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = ZERO_CASES + (zero_hidden(hidden_rng()) if hidden else [])
    guard = Guard(answer, name, references=REFERENCES)
    for case in cases:
        block = case.build()
        before = block.state_dict()
        copy = made_near(answer, module_spec(block, class_attributes=("expansion",)))
        call = _Shown(f"{name}({case.shown()})", name, [(None, copy)])
        guard.call(call)
        after = value_of(copy.state(), call)
        changed = _changed(before, after)
        last = case.last
        if changed != [f"{last}.weight"]:
            fail(call, f"expected your function to change only {last}.weight, the scale of "
                       f"the last BN of the residual branch; it changed "
                       f"{', '.join(changed) or 'nothing'}.",
                 f"for a {case.block.__name__} the last BN of the branch is {last} (the "
                 "shortcut's BN, if any, is not on the branch); zero its weight (the "
                 f"scale, not the shift `bias`) in place: with torch.no_grad(): "
                 f"block.{last}.weight.zero_().")
        check_shape(after[f"{last}.weight"], before[f"{last}.weight"].shape, call,
                    f"{last}.weight", "zero it in place; keep the parameter.")
        block.load_state_dict(after)
        x = randn((2, case.in_channels, 6, 6), case.seed + 1)
        with torch.no_grad():
            got = block(x)
            expected = F.relu(block.shortcut(x))
        shortcut = "x" if isinstance(block.shortcut, nn.Identity) else "shortcut(x)"
        check_close(got, expected, call, f"after your function, block(x) vs relu({shortcut}):",
                    f"set every entry of {last}.weight to 0.")
    report_success(name, len(cases), hidden)


# =========================================================================== 5. SE block
@dataclass(frozen=True)
class _SECase:
    channels: int
    reduction: int
    size: int
    seed: int = 0  # the reference's weights; the input comes from seed + 1


SE_CASES = [_SECase(32, 16, 4, seed=900), _SECase(64, 16, 5, seed=910)]
SE_HINT = ("average over H and W, fc1, ReLU, fc2, sigmoid, then multiply each channel of x by "
           "its gate.")


def se_hidden(rng: random.Random) -> list[_SECase]:
    """Three hidden SE blocks: channels not always a multiple of the reduction, never
    channels // reduction == reduction (there `reduction` hidden units would be right), the
    last on a 1x1 map."""
    def draw(size: int) -> _SECase:
        reduction = rng.randint(2, 16)
        units = _width(rng, 1, 6, unlike=reduction)
        channels = units * reduction + rng.choice((0, rng.randint(0, reduction - 1)))
        return _SECase(channels, reduction, size, seed_from(rng))

    return [draw(rng.randint(2, 7)), draw(rng.randint(2, 7)), draw(1)]


def _se_variant(ref: nn.Module, x: torch.Tensor, squeeze: str = "mean",
                inner: Callable = F.relu, gate: Callable = torch.sigmoid) -> torch.Tensor:
    s = x.mean(dim=(2, 3)) if squeeze == "mean" else x.amax(dim=(2, 3))
    return x * gate(ref.fc2(inner(ref.fc1(s))))[:, :, None, None]


def _se_hint(got: torch.Tensor, ref: nn.Module, x: torch.Tensor) -> str | None:
    return diagnose(got, [
        ("the gates come from a sigmoid after fc2, so each lies between 0 and 1.",
         lambda: _se_variant(ref, x, gate=lambda t: t)),
        ("the gates come from a sigmoid, one per channel, not a softmax across the channels.",
         lambda: _se_variant(ref, x, gate=lambda t: torch.softmax(t, dim=1))),
        ("fc1 is followed by a ReLU, then fc2.",
         lambda: _se_variant(ref, x, inner=lambda t: t)),
        ("squeeze with the AVERAGE over H and W, not the maximum.",
         lambda: _se_variant(ref, x, squeeze="max")),
    ], SE_HINT)


@checker
def check_se_block(student_cls: Any, hidden: bool = False) -> None:
    """``SEBlock(channels, reduction=16)``: squeeze, excite, rescale."""
    name = "SEBlock"
    answer = answer_of(student_cls, name, REFERENCES, what="a class")
    cases = SE_CASES + (se_hidden(hidden_rng()) if hidden else [])
    guard = Guard(answer, name, references=REFERENCES)
    for case in cases:
        channels, reduction = case.channels, case.reduction
        call = Call(name, [(None, channels)], {"reduction": reduction})
        block = _build(guard, call)
        reference = resnet.SqueezeExcitation(channels, reduction)
        _randomise(reference, case.seed)
        got_params = parameter_count(block)
        wrong_width = 2 * channels * reduction + channels + reduction
        check_int(got_params, _count(reference), call, "parameters",
                  f"fc1 maps the {channels} channels to channels // reduction = "
                  f"{channels // reduction} features (not to reduction = {reduction}), fc2 "
                  "maps them back." if got_params == wrong_width else
                  "two nn.Linear layers with bias: channels -> channels // reduction -> "
                  "channels, and nothing else with weights.")
        _copy_weights(reference, block, call, "fc1 (down), then fc2 (up)", "nn.Linear")
        x = randn((2, channels, case.size, case.size), case.seed + 1)
        y = run_module(block, [x], call, SE_HINT)
        with torch.no_grad():
            expected = reference(x)
        check_type(y, torch.Tensor, call, "the output")
        check_shape(y, x.shape, call, "output",
                    "return the input rescaled, x * gates[:, :, None, None], not the gates.")
        check_close(y, expected, call, "with the reference's weights, the output",
                    lambda g=y, r=reference, xs=x: _se_hint(g, r, xs))
    report_success(name, len(cases), hidden)


# =========================================================================== 6. grouped conv
@dataclass(frozen=True)
class _GroupCase:
    c_in: int
    c_out: int
    groups: int
    size: int
    seed: int = 0  # the input; the weight comes from seed + 1

    def tensors(self) -> tuple[torch.Tensor, torch.Tensor]:
        return (randn((2, self.c_in, self.size, self.size), self.seed),
                randn((self.c_out, self.c_in // self.groups, 3, 3), self.seed + 1))


GROUP_CASES = [_GroupCase(8, 8, 2, 5, seed=100), _GroupCase(32, 32, 8, 6, seed=110)]


def group_hidden(rng: random.Random) -> list[_GroupCase]:
    """Four hidden grouped convolutions. The first widens every path (C_out / groups >
    C_in / groups, groups > 1: filters sliced by the input width come out too few), then
    one that narrows, a plain convolution (groups = 1), and one on a 1x1 map."""
    def draw(per_in: int, per_out: int, groups: int, size: int) -> _GroupCase:
        return _GroupCase(per_in * groups, per_out * groups, groups, size, seed_from(rng))

    per_in = rng.randint(1, 4)
    widen = draw(per_in, rng.randint(per_in + 1, per_in + 4), rng.randint(2, 6),
                 rng.randint(3, 7))
    per_out = rng.randint(1, 3)
    narrow = draw(rng.randint(per_out + 1, per_out + 4), per_out, rng.randint(2, 6),
                  rng.randint(3, 7))
    plain = draw(rng.randint(1, 16), rng.randint(1, 16), 1, rng.randint(3, 7))
    tiny = draw(rng.randint(1, 4), rng.randint(1, 4), rng.randint(2, 8), 1)
    return [widen, narrow, plain, tiny]


def _strided_paths(x: torch.Tensor, weight: torch.Tensor, groups: int) -> torch.Tensor:
    """A known mistake: path g reads every groups-th input channel, x[:, g::groups]."""
    c_out = weight.shape[0] // groups
    return torch.cat([F.conv2d(x[:, g::groups], weight[g * c_out:(g + 1) * c_out], padding=1)
                      for g in range(groups)], dim=1)


def _grouped_shape_hint(y: torch.Tensor, expected: torch.Size) -> str:
    if y.dim() == 4 and y.shape[2:] != expected[2:]:
        return ("each path is a 3x3 convolution with padding=1, which keeps H and W; "
                "concatenate the paths along dim 1.")
    return ("path g uses the C_out / groups filters weight[g * c_out : (g + 1) * c_out], "
            "c_out = C_out / groups: the filters are sliced by the OUTPUT channels per path, "
            "the input by the input channels; concatenate the paths along dim 1.")


@checker
def check_split_transform_merge(student_fn: Any, hidden: bool = False) -> None:
    """``split_transform_merge(x, weight, groups)`` equals a grouped 3x3 conv (padding 1)."""
    name = "split_transform_merge"
    answer = answer_of(student_fn, name, REFERENCES)
    cases = GROUP_CASES + (group_hidden(hidden_rng()) if hidden else [])
    guard = Guard(answer, name, forbidden=FORBIDDEN["grouped"][1], references=REFERENCES,
                  must="compute each path with its own F.conv2d, without the groups argument")
    for case in cases:
        x, weight = case.tensors()
        call = Call(name, [("x", x), ("weight", weight), (None, case.groups)])
        y = guard.call(call)
        check_type(y, torch.Tensor, call)
        expected = F.conv2d(x, weight, padding=1, groups=case.groups)
        check_shape(y, expected.shape, call, "output",
                    lambda g=y, e=expected.shape: _grouped_shape_hint(g, e))
        check_close(y, expected, call, "output",
                    lambda g=y, a=(x, weight, case.groups): diagnose(g, [(
                        "path g reads a contiguous block of C_in / groups input channels, "
                        "x[:, g * c_in : (g + 1) * c_in], not every groups-th channel.",
                        lambda: _strided_paths(*a))],
                        "path g convolves input channels [g * C_in/groups, (g+1) * "
                        "C_in/groups) with filters [g * C_out/groups, (g+1) * "
                        "C_out/groups); concatenate the paths along dim 1."))
    report_success(name, len(cases), hidden)
