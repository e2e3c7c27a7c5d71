"""Problem set 5 (ResNet): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells with its message, the release losing everything) run for every assignment
in test_problem_sets.py. Here: the checkers' expectations agree with the course's own ResNet,
the known mistakes they name are real, and the mistakes without a mutant are still caught.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.analysis import count_parameters
from cnncourse.checks import ps05
from cnncourse.models import get_model, preact_resnet, resnet
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


@pytest.fixture(scope="module")
def answers() -> dict:
    return solutions(ASSIGNMENT)


@pytest.mark.parametrize("name", CHECKS)
def test_each_checker_prints_one_line(answers, name, capsys):
    CHECKS[name](answers[name], hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}: ")


@pytest.mark.parametrize(("name", "block", "layers", "expected"),
                         ps05.RESNET_CASES + ps05.RESNET_HIDDEN)
def test_pinned_counts_and_block_plans_are_the_course_resnets(name, block, layers, expected):
    with torch.device("meta"):
        model = get_model(name)
    assert count_parameters(model) == expected
    built = [(b.conv1.in_channels, b.bn1.num_features,
              max(m.stride[0] for m in (b.conv1, b.conv2))) for stage in model.stages
             for b in stage]
    assert all(isinstance(b, block) for stage in model.stages for b in stage)
    assert built == ps05.expected_blocks(block.expansion, layers)


@pytest.mark.parametrize(("name", "reference"), [("BasicBlock", resnet.BasicBlock),
                                                 ("BasicBlock", preact_resnet.PreActBasicBlock),
                                                 ("Bottleneck", resnet.Bottleneck),
                                                 ("SEBlock", resnet.SqueezeExcitation),
                                                 ("make_resnet", resnet.ResNet)])
def test_the_reference_itself_is_refused(name, reference):
    with pytest.raises(AssertionError, match="must be your own code"):
        CHECKS[name](reference)


@pytest.mark.parametrize(("cls", "mistakes", "cases"), [
    (resnet.BasicBlock, ps05._basic_mistakes, ps05.BASIC_CASES + ps05.BASIC_HIDDEN),
    (resnet.Bottleneck, ps05._bottleneck_mistakes,
     ps05.BOTTLENECK_CASES + ps05.BOTTLENECK_HIDDEN)])
def test_block_mistakes_named_by_the_hints_change_the_output(cls, mistakes, cases):
    for i, (in_channels, planes, stride, size) in enumerate(cases):
        reference = cls(in_channels, planes, stride).train()
        ps05._randomise(reference, seed=i)
        x = torch.randn(2, in_channels, size, size)
        with torch.no_grad():
            expected = reference(x)
            # the right variant is the reference; every named mistake differs from it
            stride_at = 0 if cls is resnet.BasicBlock else 1   # conv1, or the 3x3 conv2
            right = ps05._block_variant(reference, x, stride, stride_at=stride_at)
            assert torch.allclose(right, expected, atol=1e-5)
            for hint, mistake in mistakes():
                if stride == 1 and "stride" in hint:
                    continue   # without a stride, where it goes does not matter
                assert not torch.allclose(mistake(reference, x, stride), expected), hint


def test_a_bottleneck_relu_before_the_addition_is_named(answers):
    class EarlyReLU(answers["Bottleneck"]):
        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = F.relu(self.bn2(self.conv2(out)))
            out = F.relu(self.bn3(self.conv3(out)))
            return F.relu(out + self.shortcut(x))

    with pytest.raises(AssertionError, match="no ReLU on the branch before the addition"):
        ps05.check_bottleneck(EarlyReLU)


def test_stride_on_the_first_stage_is_named():
    def stride_in_every_stage(block, layers, num_classes=1000):
        stem = [nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), nn.BatchNorm2d(64),
                nn.ReLU(), nn.MaxPool2d(3, stride=2, padding=1)]
        blocks, channels = [], 64
        for planes, count in zip((64, 128, 256, 512), layers, strict=True):
            for j in range(count):
                blocks.append(block(channels, planes, 2 if j == 0 else 1))
                channels = planes * block.expansion
        return nn.Sequential(*stem, *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(channels, num_classes))

    with pytest.raises(AssertionError, match=r"block 1 of 8: expected block\(64, 64, "
                                             r"stride=1\), got block\(64, 64, stride=2\)"):
        ps05.check_make_resnet(stride_in_every_stage)


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
    for cls, args in ps05.ZERO_CASES + ps05.ZERO_HIDDEN:
        block = cls(*args).eval()
        for m in block.modules():
            if isinstance(m, nn.BatchNorm2d):
                nn.init.uniform_(m.running_mean, -1.0, 1.0)
        nn.init.zeros_((block.bn2 if cls is resnet.BasicBlock else block.bn3).weight)
        x = torch.randn(2, args[0], 6, 6)
        with torch.no_grad():
            assert torch.allclose(block(x), F.relu(block.shortcut(x)))


def test_grouped_checker_allows_conv2d_only_without_groups():
    def torch_conv2d_positional(x, weight, groups):
        return torch.conv2d(x, weight, None, 1, 1, 1, groups)

    with pytest.raises(AssertionError, match="with groups=2"):
        ps05.check_split_transform_merge(torch_conv2d_positional)
    assert F.conv2d is torch.conv2d and not hasattr(F.conv2d, "__wrapped__")  # traps undone

    def no_padding(x, weight, groups):
        c_in, c_out = x.shape[1] // groups, weight.shape[0] // groups
        return torch.cat([F.conv2d(x[:, g * c_in:(g + 1) * c_in],
                                   weight[g * c_out:(g + 1) * c_out]) for g in range(groups)],
                         dim=1)

    with pytest.raises(AssertionError, match="padding=1, which keeps H and W"):
        ps05.check_split_transform_merge(no_padding)
