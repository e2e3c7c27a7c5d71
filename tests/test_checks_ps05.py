"""Problem set 5 (ResNet): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells with its message, the release losing everything) run for every assignment
in test_problem_sets.py. Here: the checkers' expectations agree with the course's own ResNet,
the known mistakes they name are real, the mistakes without a mutant are still caught, the
hidden draws keep their promises, and the probe-side stand-ins (recording blocks, look-alike
blocks) behave as the checkers assume.
"""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.analysis import count_parameters
from cnncourse.checks import ps05
from cnncourse.checks._core import layers_of, made_near
from cnncourse.models import get_model, preact_resnet, resnet
from cnncourse.probe.client import local_remote
from cnncourse.probe.fixtures import make, module_spec
from cnncourse.probe.wire import Make
from tests.problem_sets import solutions

ASSIGNMENT = "ps05_resnet"
CHECKS = {
    "BasicBlock": ps05.check_basic_block,
    "Bottleneck": ps05.check_bottleneck,
    "make_resnet": ps05.check_make_resnet,
    "zero_init_last_bn": ps05.check_zero_init_last_bn,
    "SEBlock": ps05.check_se_block,
    "split_transform_merge": ps05.check_split_transform_merge,
}
SEEDS = range(20)  # hidden cases as the grader draws them
PINNED = [("resnet18", resnet.BasicBlock, (2, 2, 2, 2), 11_689_512),
          ("resnet34", resnet.BasicBlock, (3, 4, 6, 3), 21_797_672),
          ("resnet50", resnet.Bottleneck, (3, 4, 6, 3), 25_557_032),
          ("resnet101", resnet.Bottleneck, (3, 4, 23, 3), 44_549_160),
          ("resnet152", resnet.Bottleneck, (3, 8, 36, 3), 60_192_808)]


@pytest.fixture(scope="module")
def answers() -> dict:
    return solutions(ASSIGNMENT)


@pytest.mark.parametrize("name", CHECKS)
def test_each_checker_prints_one_line(answers, name, capsys):
    CHECKS[name](answers[name], hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}: ")


# --------------------------------------------------------------------------- the checkers' truth
@pytest.mark.parametrize(("name", "block", "layers", "expected"), PINNED)
def test_pinned_counts_and_block_plans_are_the_course_resnets(name, block, layers, expected):
    with torch.device("meta"):
        model = get_model(name)
    assert count_parameters(model) == expected == ps05.resnet_parameters(block, layers, 1000)
    built = [(b.conv1.in_channels, b.bn1.num_features,
              max(m.stride[0] for m in (b.conv1, b.conv2))) for stage in model.stages
             for b in stage]
    assert all(isinstance(b, block) for stage in model.stages for b in stage)
    assert built == ps05.expected_blocks(block.expansion, layers)


def test_visible_count_cases_are_the_pinned_resnets():
    pinned = {name: (block, layers) for name, block, layers, _ in PINNED}
    for case in ps05.RESNET_CASES:
        assert pinned[case.label] == (case.block, case.layers) and case.num_classes == 1000


def test_drawn_counts_are_the_course_resnets(monkeypatch):
    # the initialisation is irrelevant to a count and slow on the meta device
    monkeypatch.setattr(resnet.ResNet, "_init_weights", lambda self, zero_init: None)
    for seed in range(3):
        for case in ps05.count_hidden(random.Random(seed)):
            with torch.device("meta"):
                model = resnet.ResNet(case.block, case.layers, case.num_classes)
            assert count_parameters(model) == ps05.resnet_parameters(
                case.block, case.layers, case.num_classes)


@pytest.mark.parametrize(("name", "reference"), [("BasicBlock", resnet.BasicBlock),
                                                 ("BasicBlock", preact_resnet.PreActBasicBlock),
                                                 ("Bottleneck", resnet.Bottleneck),
                                                 ("SEBlock", resnet.SqueezeExcitation),
                                                 ("make_resnet", resnet.ResNet)])
def test_the_reference_itself_is_refused(name, reference):
    with pytest.raises(AssertionError, match="must be your own code"):
        CHECKS[name](reference)


@pytest.mark.parametrize(("cls", "mistakes", "cases", "draw"), [
    (resnet.BasicBlock, ps05._basic_mistakes, ps05.BASIC_CASES, ps05.basic_hidden),
    (resnet.Bottleneck, ps05._bottleneck_mistakes, ps05.BOTTLENECK_CASES,
     ps05.bottleneck_hidden)])
def test_block_mistakes_named_by_the_hints_change_the_output(cls, mistakes, cases, draw):
    for case in cases + [c for seed in SEEDS for c in draw(random.Random(seed))]:
        reference = cls(case.in_channels, case.planes, case.stride).train()
        ps05._randomise(reference, case.seed)
        x = case.input()
        with torch.no_grad():
            expected = reference(x)
            # the right variant is the reference; every named mistake differs from it
            stride_at = 0 if cls is resnet.BasicBlock else 1   # conv1, or the 3x3 conv2
            right = ps05._block_variant(reference, x, case.stride, stride_at=stride_at)
            assert torch.allclose(right, expected, atol=1e-5)
            for hint, mistake in mistakes():
                if case.stride == 1 and "stride" in hint:
                    continue   # without a stride, where it goes does not matter
                assert not torch.allclose(mistake(reference, x, case.stride), expected), hint


def test_a_bottleneck_relu_before_the_addition_is_named(answers):
    class EarlyReLU(answers["Bottleneck"]):
        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = F.relu(self.bn2(self.conv2(out)))
            out = F.relu(self.bn3(self.conv3(out)))
            return F.relu(out + self.shortcut(x))

    with pytest.raises(AssertionError, match="no ReLU on the branch before the addition"):
        ps05.check_bottleneck(EarlyReLU)


def _stem() -> list[nn.Module]:
    return [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64),
            nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1)]


def test_stride_on_the_first_stage_is_named():
    def stride_in_every_stage(block, layers, num_classes=1000):
        blocks, channels = [], 64
        for planes, count in zip((64, 128, 256, 512), layers, strict=True):
            for j in range(count):
                blocks.append(block(channels, planes, 2 if j == 0 else 1))
                channels = planes * block.expansion
        return nn.Sequential(*_stem(), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(channels, num_classes))

    with pytest.raises(AssertionError, match=r"block 1 of 8: expected block\(64, 64, "
                                             r"stride=1\), got block\(64, 64, stride=2\)"):
        ps05.check_make_resnet(stride_in_every_stage)


def test_blocks_kept_in_a_plain_list_are_not_counted():
    # they run in the right order, but their weights are not the network's: not trained,
    # not saved. The count with the course's blocks finds them missing.
    class Unregistered(nn.Module):
        def __init__(self, block, layers, num_classes):
            super().__init__()
            self.stem = nn.Sequential(*_stem())
            self.blocks, channels = [], 64
            for i, (planes, count) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
                for j in range(count):
                    self.blocks.append(block(channels, planes, 2 if i > 0 and j == 0 else 1))
                    channels = planes * block.expansion
            self.fc = nn.Linear(channels, num_classes)

        def forward(self, x):
            x = self.stem(x)
            for block in self.blocks:
                x = block(x)
            return self.fc(x.mean(dim=(2, 3)))

    def make_resnet(block, layers, num_classes=1000):
        return Unregistered(block, layers, num_classes)

    with pytest.raises(AssertionError, match=r"\(that is resnet18\): parameters of resnet18: "
                                             r"expected 11689512, got 522536\."):
        ps05.check_make_resnet(make_resnet)


def test_softmax_gates_are_named(answers):
    class SoftmaxGates(answers["SEBlock"]):
        def forward(self, x):
            s = self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3)))))
            return x * torch.softmax(s, dim=1)[:, :, None, None]

    with pytest.raises(AssertionError, match="not a softmax across the channels"):
        ps05.check_se_block(SoftmaxGates)


def test_zero_init_premise_holds_for_the_course_blocks():
    # what the checker expects: with the last scale at 0 (and shifts at 0, as initialised)
    # a block computes relu(shortcut(x)), whatever its other weights and statistics
    drawn = [c for seed in SEEDS for c in ps05.zero_hidden(random.Random(seed))]
    for case in ps05.ZERO_CASES + drawn:
        block = case.build()
        nn.init.zeros_(getattr(block, case.last).weight)
        x = torch.randn(2, case.in_channels, 6, 6)
        with torch.no_grad():
            assert torch.allclose(block(x), F.relu(block.shortcut(x)), atol=1e-6)


def test_grouped_checker_allows_conv2d_only_without_groups():
    def torch_conv2d_positional(x, weight, groups):
        return torch.conv2d(x, weight, None, 1, 1, 1, groups)

    with pytest.raises(AssertionError, match="without the groups argument: it called "
                                             "torch.conv2d"):
        ps05.check_split_transform_merge(torch_conv2d_positional)
    assert F.conv2d is torch.conv2d and not hasattr(F.conv2d, "__wrapped__")  # traps undone

    def no_padding(x, weight, groups):
        c_in, c_out = x.shape[1] // groups, weight.shape[0] // groups
        return torch.cat([F.conv2d(x[:, g * c_in:(g + 1) * c_in],
                                   weight[g * c_out:(g + 1) * c_out]) for g in range(groups)],
                         dim=1)

    with pytest.raises(AssertionError, match="padding=1, which keeps H and W"):
        ps05.check_split_transform_merge(no_padding)


# --------------------------------------------------------------------------- hidden draws
def _projects(case, expansion: int) -> bool:
    return case.stride != 1 or case.in_channels != case.planes * expansion


@pytest.mark.parametrize("seed", SEEDS)
def test_hidden_draws_keep_their_promises(seed):
    rng = random.Random(seed)
    for cls, draw in ((resnet.BasicBlock, ps05.basic_hidden),
                      (resnet.Bottleneck, ps05.bottleneck_hidden)):
        cases = draw(rng)
        e = cls.expansion
        # every kind of shortcut; a width change at stride 1 (a block projecting only when
        # it strides gets it wrong)
        assert {(c.stride, c.in_channels != c.planes * e) for c in cases} == {
            (1, False), (2, False), (1, True), (2, True)}
        for c in cases:
            assert c.size >= 3 and c.planes >= 2
            block = cls(c.in_channels, c.planes, c.stride)
            assert isinstance(block.shortcut, nn.Identity) != _projects(c, e)

    plans = ps05.plan_hidden(rng)
    assert {1, 4} <= {e for e, _ in plans} and any(e not in (1, 4) for e, _ in plans)
    assert all(len(layers) == 4 and min(layers) >= 1 for _, layers in plans)
    counts = ps05.count_hidden(rng)
    assert [c.block for c in counts] == [resnet.BasicBlock, resnet.Bottleneck]
    assert all(2 <= c.num_classes <= 1000 and min(c.layers) >= 1 for c in counts)

    zeros = ps05.zero_hidden(rng)
    for cls in (resnet.BasicBlock, resnet.Bottleneck):
        kinds = [_projects(c, cls.expansion) for c in zeros if c.block is cls]
        assert sorted(kinds) == [False, True]  # a projection: its BN is last in modules()

    ses = ps05.se_hidden(rng)
    assert all(c.channels // c.reduction not in (0, c.reduction) for c in ses)
    assert any(c.size == 1 for c in ses)

    groups = ps05.group_hidden(rng)
    first = groups[0]  # filters sliced by the input width come out too few, at once
    assert first.groups > 1 and first.c_out // first.groups > first.c_in // first.groups
    assert any(c.groups == 1 for c in groups) and any(c.size == 1 for c in groups)
    for c in groups:
        assert c.c_in % c.groups == 0 and c.c_out % c.groups == 0
        x, weight = c.tensors()
        assert F.conv2d(x, weight, padding=1, groups=c.groups).shape == (2, c.c_out, c.size,
                                                                           c.size)


def test_hidden_draws_depend_on_the_seed_only():
    for draw in (ps05.basic_hidden, ps05.bottleneck_hidden, ps05.plan_hidden,
                 ps05.count_hidden, ps05.zero_hidden, ps05.se_hidden, ps05.group_hidden):
        assert draw(random.Random(7)) == draw(random.Random(7))
        assert draw(random.Random(7)) != draw(random.Random(8))


# --------------------------------------------------------------------------- probe stand-ins
@pytest.mark.parametrize("block", [resnet.BasicBlock(8, 16, 2), resnet.Bottleneck(16, 4)])
def test_a_course_block_crosses_as_a_look_alike(block):
    copy = make("module", module_spec(block, class_attributes=("expansion",)).spec)
    assert type(copy).__name__ == type(block).__name__ and not isinstance(copy, type(block))
    assert copy.expansion == block.expansion
    assert [n for n, _ in copy.named_modules()] == [n for n, _ in block.named_modules()]
    assert all(torch.equal(a, b) for a, b in zip(copy.state_dict().values(),
                                                 block.state_dict().values(), strict=True))
    plain = make("module", module_spec(block).spec)  # without the option: a plain container
    assert type(plain) is nn.Module and not hasattr(plain, "expansion")


def test_a_recording_block_records_where_it_is_built_and_run():
    owner = local_remote(lambda block: nn.Sequential(block(3, 4, 2), block(8, 4)))
    block = made_near(owner, Make("recording_block", {"name": "block", "expansion": 2}))
    assert block.is_class and block.name == "block"
    model = owner.call(block)["ok"]
    out = model.forward(torch.zeros(1, 3, 5, 5))["ok"]["out"]
    assert out.shape == (1, 8, 3, 3)
    assert block.getattr("built")["ok"] == [(3, 4, 2), (8, 4, 1)]
    assert block.getattr("inputs")["ok"] == [(1, 3, 5, 5), (1, 8, 3, 3)]
    blocks = [layer for layer in layers_of(model) if layer.children == ()]
    assert [(b.attr("in_channels"), b.attr("out_channels"), b.attr("stride"))
            for b in blocks] == [(3, 8, 2), (8, 8, 1)]
    assert all(b.params == () for b in blocks)
    wrong = model.forward(torch.zeros(1, 5, 5, 5))["raised"]
    assert wrong["type"] == "ValueError" and "block(3, 4, 2)" in wrong["message"]
