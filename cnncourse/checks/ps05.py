"""Checkers for problem set 5: ResNet (the basic and the bottleneck block, a ResNet from its
block counts, zero-initialised residuals, squeeze-and-excitation, ResNeXt's grouped
convolution as separate paths).

One ``check_<thing>(student_obj, hidden=False)`` per graded part. Blocks are compared with the
course's reference (``cnncourse.models.resnet``): output shape, parameter count, then the
outputs once the reference's (randomised) weights are copied into the student's module in
registration order (conv1, bn1, conv2, bn2, ..., then the shortcut's conv and BN). Blocks run
in training mode, so batch norm uses the batch's statistics. ``make_resnet`` is given
parameter-free probe blocks that record how they were built, then the course's blocks to
count parameters. Each checker raises ``AssertionError`` on the first wrong case, with a hint
naming the mistake when it is a known one, and prints one line on success.

Nothing here builds the course's ``ResNet`` or runs a forward pass on the meta device: the
first ``normal_`` or forward on meta tensors costs seconds of one-off imports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.checks._core import (
    Call,
    ForbiddenCall,
    Guard,
    check_callable,
    check_close,
    check_int,
    check_shape,
    check_type,
    checker,
    diagnose,
    fail,
    generator,
    randn,
    reference_objects,
    refuse_reference,
    report_success,
)
from cnncourse.models import resnet

REFERENCES = reference_objects("cnncourse.models.resnet", "cnncourse.models.preact_resnet")
with torch.device("meta"):   # its first use imports a module: do it now, in the setup cell,
    pass                     # not while a student's code runs under the grader's audit hook
# What building one of the course's blocks calls: make_resnet is handed those blocks, so
# they must not be trapped while it runs.
BLOCK_PARTS = (resnet.BasicBlock, resnet.Bottleneck, resnet.conv3x3, resnet.conv1x1,
               resnet.shortcut_b, resnet.projection, resnet.branch_extras)
NETWORK_REFERENCES = [ref for ref in REFERENCES if ref not in BLOCK_PARTS]


class _Shown(Call):
    """A call whose arguments would print badly (a module, a class): shown as given."""

    def __init__(self, shown: str, name: str, args: Sequence[tuple[str | None, Any]],
                 kwargs: dict[str, Any] | None = None) -> None:
        super().__init__(name, args, kwargs or {})
        self.shown = shown

    def __str__(self) -> str:
        return self.shown


def _start(student: Any, name: str) -> None:
    check_callable(student, name)
    refuse_reference(student, name, REFERENCES)


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _build(guard: Guard, call: Call) -> nn.Module:
    module = guard.call(call)
    check_type(module, nn.Module, call, "the block",
               "subclass nn.Module and call super().__init__() first.")
    refuse_reference(type(module), call.name, REFERENCES)
    return module


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


def _copy_weights(source: nn.Module, target: nn.Module, call: Call, order: str) -> None:
    """Copy ``source``'s parameters and buffers into ``target``, entry by entry in order."""
    src, dst = source.state_dict(), target.state_dict()
    shapes_src = [tuple(v.shape) for v in src.values()]
    shapes_dst = [tuple(v.shape) for v in dst.values()]
    if shapes_src != shapes_dst:
        fail(call, f"could not copy the reference's weights into your module: expected "
                   f"{len(src)} parameter and buffer tensors of shapes {shapes_src}, got "
                   f"{len(dst)} of shapes {shapes_dst}.",
             f"create the layers in __init__ in this order: {order}; plain nn.Conv2d and "
             "nn.BatchNorm2d, nothing else with weights.")
    target.load_state_dict(dict(zip(dst, src.values(), strict=True)))


def _forward(module: nn.Module, x: torch.Tensor, call: Call, hint: Any) -> Any:
    """``module(x)``; an error inside the student's forward becomes a checker failure."""
    try:
        return module(x.clone())
    except Exception as error:  # noqa: BLE001 - any crash of the student's code is the answer
        fail(call, f"running it on x {tuple(x.shape)} raised {type(error).__name__}: {error}",
             hint)


# =========================================================================== blocks (1 and 2)
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


def _check_block(student_cls: Any, name: str, expansion: int, cases: list[tuple],
                 order: str, hints: dict[str, str], mistakes: Callable[[], list],
                 hidden: bool) -> None:
    """Shape, parameters, then values with the reference's weights, case by case."""
    found = getattr(student_cls, "expansion", None)
    if found != expansion:
        fail(name, f"expected a class attribute expansion = {expansion}, got {found!r}.",
             f"the block outputs {expansion} * planes channels; say so with `expansion = "
             f"{expansion}` in the class body.")
    reference_cls = getattr(resnet, name)
    with Guard(student_cls, name, references=REFERENCES) as guard:
        for i, (in_channels, planes, stride, size) in enumerate(cases):
            call = Call(name, [(None, in_channels), (None, planes)], {"stride": stride})
            block = _build(guard, call).train()
            reference = reference_cls(in_channels, planes, stride).train()
            _randomise(reference, seed=500 + 10 * i)
            out_channels = planes * expansion
            got_params = _count(block)

            def params_hint(got: int = got_params, ref: nn.Module = reference,
                            c: tuple = (in_channels, out_channels, stride)) -> str:
                return _params_hint(got, ref, *c, hints["params"])

            x = randn((2, in_channels, size, size), seed=50 + i)
            y = _forward(block, x, call, params_hint if got_params != _count(reference)
                         else hints["shape"])
            check_type(y, torch.Tensor, call, "the output")
            side = (size - 1) // stride + 1
            check_shape(y, (2, out_channels, side, side), call, "output", hints["shape"])
            check_int(got_params, _count(reference), call, "parameters", params_hint)
            _copy_weights(reference, block, call, order)
            with torch.no_grad():
                got = _forward(block, x, call, hints["values"])
                expected = reference(x.clone())
            check_close(got, expected, call, "with the reference's weights, the output",
                        lambda g=got, r=reference, xs=x, s=stride: diagnose(
                            g, [(hint, lambda f=f: f(r, xs, s)) for hint, f in mistakes()],
                            hints["values"]))
    report_success(name, len(cases), hidden)


# --------------------------------------------------------------------------- 1. BasicBlock
BASIC_CASES = [(16, 16, 1, 8), (16, 32, 2, 8)]            # (in_channels, planes, stride, size)
BASIC_HIDDEN = [(8, 8, 1, 5), (8, 24, 2, 7), (12, 12, 2, 6), (6, 10, 1, 4)]
BASIC_ORDER = "conv1, bn1, conv2, bn2, then the shortcut's 1x1 conv and its BN"


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
    _start(student_cls, "BasicBlock")
    _check_block(student_cls, "BasicBlock", 1, BASIC_CASES + (BASIC_HIDDEN if hidden else []),
                 BASIC_ORDER, {
                     "shape": "the block outputs planes channels; the stride belongs on conv1 "
                              "and on the shortcut, and both 3x3 convs have padding 1.",
                     "params": "two 3x3 convs without bias, each with a BatchNorm2d; a "
                               "projection shortcut (1x1 conv and BatchNorm2d) only when the "
                               "stride is not 1 or the channel count changes.",
                     "values": "relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), with the "
                               f"layers created in the order {BASIC_ORDER}.",
                 }, _basic_mistakes, hidden)


# --------------------------------------------------------------------------- 2. Bottleneck
BOTTLENECK_CASES = [(64, 16, 1, 6), (32, 16, 2, 8)]
BOTTLENECK_HIDDEN = [(64, 16, 2, 7), (16, 8, 1, 5), (24, 4, 2, 6)]
BOTTLENECK_ORDER = "conv1, bn1, conv2, bn2, conv3, bn3, then the shortcut's 1x1 conv and its BN"


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
    _start(student_cls, "Bottleneck")
    _check_block(student_cls, "Bottleneck", 4,
                 BOTTLENECK_CASES + (BOTTLENECK_HIDDEN if hidden else []), BOTTLENECK_ORDER, {
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
RESNET_CASES = [("resnet18", resnet.BasicBlock, (2, 2, 2, 2), 11_689_512),
                ("resnet34", resnet.BasicBlock, (3, 4, 6, 3), 21_797_672),
                ("resnet50", resnet.Bottleneck, (3, 4, 6, 3), 25_557_032)]
RESNET_HIDDEN = [("resnet101", resnet.Bottleneck, (3, 4, 23, 3), 44_549_160),
                 ("resnet152", resnet.Bottleneck, (3, 8, 36, 3), 60_192_808)]
PROBE_CASES = [(1, (2, 2, 2, 2)), (4, (3, 4, 6, 3))]      # (expansion, layers)
PROBE_HIDDEN = [(4, (1, 2, 1, 1)), (1, (3, 1, 2, 1)), (2, (1, 1, 1, 2))]
PROBE_SIZE = 64
RESNET_HINT = ("stem: Conv2d(3, 64, 7, stride=2, padding=3, bias=False), BatchNorm2d(64), "
               "ReLU, MaxPool2d(3, stride=2, padding=1); then the blocks; then "
               "AdaptiveAvgPool2d(1), flatten, Linear(512 * block.expansion, num_classes).")


def expected_blocks(expansion: int, layers: Sequence[int]) -> list[tuple[int, int, int]]:
    """The ``(in_channels, planes, stride)`` of every block of a ResNet, in order."""
    built, channels = [], STAGE_PLANES[0]
    for i, (planes, count) in enumerate(zip(STAGE_PLANES, layers, strict=True)):
        for j in range(count):
            built.append((channels, planes, 2 if i > 0 and j == 0 else 1))
            channels = planes * expansion
    return built


def _probe_class(expansion: int) -> type[nn.Module]:
    """A block class without weights that records every ``(in_channels, planes, stride)`` it
    is built with and the input shape each instance is called with."""

    class Probe(nn.Module):
        built: list[tuple[int, int, int]] = []
        inputs: list[tuple[int, ...]] = []

        def __init__(self, in_channels: int, planes: int, stride: int = 1) -> None:
            super().__init__()
            self.in_channels, self.planes, self.stride = in_channels, planes, stride
            type(self).built.append((in_channels, planes, stride))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            type(self).inputs.append(tuple(x.shape))
            if x.dim() != 4 or x.shape[1] != self.in_channels:
                raise ValueError(f"a block built as block({self.in_channels}, {self.planes}, "
                                 f"{self.stride}) was given an input of shape "
                                 f"{tuple(x.shape)}")
            out = x[:, :, ::self.stride, ::self.stride].mean(dim=1, keepdim=True)
            return out.repeat(1, self.planes * expansion, 1, 1)

    Probe.expansion = expansion
    Probe.__name__ = Probe.__qualname__ = "block"
    return Probe


def _describe_block(args: tuple[int, int, int]) -> str:
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


def _check_probes(guard: Guard, expansion: int, layers: tuple[int, ...]) -> None:
    probe = _probe_class(expansion)
    call = _Shown(f"make_resnet(block with expansion={expansion}, {layers}, num_classes=7)",
                  "make_resnet", [(None, probe), (None, layers)], {"num_classes": 7})
    model = guard.call(call)
    check_type(model, nn.Module, call, "the network", "return an nn.Module (nn.Sequential "
               "will do).")
    want = expected_blocks(expansion, layers)
    got = probe.built
    if got != want:
        first = _first_difference(got, want)
        if first is None:
            fail(call, f"expected {len(want)} blocks ({' + '.join(map(str, layers))}), "
                       f"got {len(got)}.", _blocks_hint(got, want))
        fail(call, f"block {first + 1} of {len(want)}: expected {_describe_block(want[first])}, "
                   f"got {_describe_block(got[first])}.", _blocks_hint(got, want))
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if linears and linears[-1].in_features != 512 * expansion:
        fail(call, f"the final Linear takes {linears[-1].in_features} features, expected "
                   f"{512 * expansion} = 512 * block.expansion.",
             "the last stage outputs 512 * block.expansion channels, pooled to one value each: "
             "Linear(512 * block.expansion, num_classes).")
    x = randn((2, 3, PROBE_SIZE, PROBE_SIZE), seed=70)
    y = _forward(model, x, call, "use every block once, in order, after the stem; "
                                 + RESNET_HINT)
    if probe.inputs and probe.inputs[0][2:] != (PROBE_SIZE // 4, PROBE_SIZE // 4):
        fail(call, f"on an input of {PROBE_SIZE}x{PROBE_SIZE} the first block should get a "
                   f"{PROBE_SIZE // 4}x{PROBE_SIZE // 4} map, got "
                   f"{probe.inputs[0][2]}x{probe.inputs[0][3]}.",
             "the stem divides the size by 4: the 7x7 conv with stride 2 and padding 3, then "
             "MaxPool2d(3, stride=2, padding=1).")
    if len(probe.inputs) != len(want):
        fail(call, f"expected each of the {len(want)} blocks to run once in the forward pass, "
                   f"got {len(probe.inputs)} block calls.", "x = block(x) for every block.")
    check_type(y, torch.Tensor, call, "the output")
    check_shape(y, (2, 7), call, "output", RESNET_HINT)


def _count_hint(got: int, expected: int) -> str:
    delta = got - expected
    known = {64: "the stem's 7x7 conv has no bias (bias=False): a BN follows it.",
             -128: "the stem has a BatchNorm2d(64) after its 7x7 conv.",
             -1000: "the final Linear has a bias."}
    return known.get(delta, f"you have {delta:+,} parameters; " + RESNET_HINT)


@checker
def check_make_resnet(student_fn: Any, hidden: bool = False) -> None:
    """``make_resnet(block, layers, num_classes=1000)``: a ResNet from its block counts."""
    name = "make_resnet"
    _start(student_fn, name)
    probes = PROBE_CASES + (PROBE_HIDDEN if hidden else [])
    counts = RESNET_CASES + (RESNET_HIDDEN if hidden else [])
    with Guard(student_fn, name, references=NETWORK_REFERENCES) as guard:
        for expansion, layers in probes:
            _check_probes(guard, expansion, layers)
        for label, block, layers, expected in counts:
            call = _Shown(f"make_resnet({block.__name__}, {layers}) (that is {label})",
                          name, [(None, block), (None, layers)])
            with torch.device("meta"):   # counts only: no time spent on random weights
                model = guard.call(call)
            check_type(model, nn.Module, call, "the network")
            got = _count(model)
            check_int(got, expected, call, f"parameters of {label}",
                      lambda g=got, e=expected: _count_hint(g, e))
    report_success(name, len(probes) + len(counts), hidden)


# =========================================================================== 4. zero init
ZERO_CASES = [(resnet.BasicBlock, (16, 16, 1)), (resnet.Bottleneck, (64, 16, 1))]
ZERO_HIDDEN = [(resnet.BasicBlock, (8, 8, 1)), (resnet.Bottleneck, (32, 8, 1)),
               (resnet.BasicBlock, (8, 16, 2)), (resnet.Bottleneck, (16, 8, 2))]


@checker
def check_zero_init_last_bn(student_fn: Any, hidden: bool = False) -> None:
    """``zero_init_last_bn(block)``: zero the last BN's scale of the residual branch in place,
    so the block computes relu(shortcut(x)), which is relu(x) with an identity shortcut."""
    name = "zero_init_last_bn"
    _start(student_fn, name)
    cases = ZERO_CASES + (ZERO_HIDDEN if hidden else [])
    with Guard(student_fn, name, references=REFERENCES) as guard:
        for i, (cls, args) in enumerate(cases):
            block = cls(*args).eval()
            gen = generator(80 + i)
            with torch.no_grad():   # random scales and statistics; the shifts stay 0, as at
                for m in block.modules():   # initialisation: only the LAST scale gives relu
                    if isinstance(m, nn.BatchNorm2d):
                        m.weight.uniform_(0.5, 1.5, generator=gen)
                        m.running_mean.uniform_(-1.0, 1.0, generator=gen)
                        m.running_var.uniform_(0.5, 1.5, generator=gen)
            last = "bn2" if cls is resnet.BasicBlock else "bn3"
            before = {k: v.clone() for k, v in block.state_dict().items()}
            shown = f"{cls.__name__}({args[0]}, {args[1]}, stride={args[2]})"
            call = _Shown(f"{name}({shown})", name, [(None, block)])
            guard.call(call)
            changed = [k for k, v in block.state_dict().items()
                       if k not in before or not torch.equal(v, before[k])]
            if changed != [f"{last}.weight"]:
                fail(call, f"expected your function to change only {last}.weight, the scale of "
                           f"the last BN of the residual branch; it changed "
                           f"{', '.join(changed) or 'nothing'}.",
                     f"for a {cls.__name__} the last BN of the branch is {last} (the "
                     "shortcut's BN, if any, is not on the branch); zero its weight (the "
                     f"scale, not the shift `bias`) in place: with torch.no_grad(): "
                     f"block.{last}.weight.zero_().")
            x = randn((2, args[0], 6, 6), seed=90 + i)
            with torch.no_grad():
                got = block(x)
                expected = F.relu(block.shortcut(x))
            shortcut = "x" if isinstance(block.shortcut, nn.Identity) else "shortcut(x)"
            check_close(got, expected, call, f"after your function, block(x) vs relu({shortcut}):",
                        f"set every entry of {last}.weight to 0.")
    report_success(name, len(cases), hidden)


# =========================================================================== 5. SE block
SE_CASES = [(32, 16, 4), (64, 16, 5)]                      # (channels, reduction, size)
SE_HIDDEN = [(48, 8, 3), (20, 4, 7), (12, 3, 1)]
SE_HINT = ("average over H and W, fc1, ReLU, fc2, sigmoid, then multiply each channel of x by "
           "its gate.")


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
    _start(student_cls, name)
    cases = SE_CASES + (SE_HIDDEN if hidden else [])
    with Guard(student_cls, name, references=REFERENCES) as guard:
        for i, (channels, reduction, size) in enumerate(cases):
            call = Call(name, [(None, channels)], {"reduction": reduction})
            block = _build(guard, call)
            reference = resnet.SqueezeExcitation(channels, reduction)
            _randomise(reference, seed=900 + 10 * i)
            hidden_units = channels // reduction
            got_params = _count(block)
            wrong_width = 2 * channels * reduction + channels + reduction
            check_int(got_params, _count(reference), call, "parameters",
                      f"fc1 maps the {channels} channels to channels // reduction = "
                      f"{hidden_units} features (not to reduction = {reduction}), fc2 maps "
                      "them back." if got_params == wrong_width else
                      "two nn.Linear layers with bias: channels -> channels // reduction -> "
                      "channels, and nothing else with weights.")
            _copy_weights(reference, block, call, "fc1 (down), then fc2 (up)")
            x = randn((2, channels, size, size), seed=90 + i)
            with torch.no_grad():
                y = _forward(block, x, call, SE_HINT)
                expected = reference(x)
            check_type(y, torch.Tensor, call, "the output")
            check_shape(y, x.shape, call, "output",
                        "return the input rescaled, x * gates[:, :, None, None], not the gates.")
            check_close(y, expected, call, "with the reference's weights, the output",
                        lambda g=y, r=reference, xs=x: _se_hint(g, r, xs))
    report_success(name, len(cases), hidden)


# =========================================================================== 6. grouped conv
GROUP_CASES = [(8, 8, 2, 5), (32, 32, 8, 6)]              # (c_in, c_out, groups, size)
GROUP_HIDDEN = [(6, 12, 6, 5), (12, 6, 3, 4), (16, 16, 1, 3), (8, 4, 4, 1)]
CONV2D = "torch.nn.functional.conv2d"


class _PathsGuard(Guard):
    """A guard that lets the student call ``F.conv2d``, but only without ``groups``."""

    def _make_trap(self, original: Callable[..., Any], kind: type, label: str
                   ) -> Callable[..., Any]:
        if kind is not ForbiddenCall:
            return super()._make_trap(original, kind, label)
        guard = self

        def conv2d(*args: Any, **kwargs: Any) -> Any:
            groups = kwargs.get("groups", args[6] if len(args) > 6 else 1)
            if guard.armed and groups != 1:
                violation = ForbiddenCall(f"{label} with groups={groups}")
                guard.violations.append(violation)
                raise violation
            return original(*args, **kwargs)

        conv2d.__wrapped__ = original  # type: ignore[attr-defined]
        return conv2d


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
    _start(student_fn, name)
    cases = GROUP_CASES + (GROUP_HIDDEN if hidden else [])
    with _PathsGuard(student_fn, name, forbidden=[CONV2D], references=REFERENCES,
                     must="compute each path with its own F.conv2d, without the groups "
                          "argument") as guard:
        for i, (c_in, c_out, groups, size) in enumerate(cases):
            x = randn((2, c_in, size, size), seed=100 + i)
            weight = randn((c_out, c_in // groups, 3, 3), seed=110 + i)
            call = Call(name, [("x", x), ("weight", weight), (None, groups)])
            y = guard.call(call)
            check_type(y, torch.Tensor, call)
            expected = F.conv2d(x, weight, padding=1, groups=groups)
            check_shape(y, expected.shape, call, "output",
                        lambda g=y, e=expected.shape: _grouped_shape_hint(g, e))
            check_close(y, expected, call, "output",
                        lambda g=y, a=(x, weight, groups): diagnose(g, [(
                            "path g reads a contiguous block of C_in / groups input channels, "
                            "x[:, g * c_in : (g + 1) * c_in], not every groups-th channel.",
                            lambda: _strided_paths(*a))],
                            "path g convolves input channels [g * C_in/groups, (g+1) * "
                            "C_in/groups) with filters [g * C_out/groups, (g+1) * "
                            "C_out/groups); concatenate the paths along dim 1."))
    report_success(name, len(cases), hidden)
