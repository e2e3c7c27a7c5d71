"""Problem set 6 (efficient convolutions): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from cnncourse.analysis import layer_table
from cnncourse.checks import ps06
from cnncourse.models.densenet import DenseBlock
from cnncourse.models.mobilenet import DepthwiseSeparableConv, InvertedResidual
from cnncourse.models.shufflenet import channel_shuffle
from tests.problem_sets import solutions

ASSIGNMENT = "ps06_efficient"


@pytest.fixture(scope="module")
def answers() -> dict:
    return solutions(ASSIGNMENT)


def test_each_checker_prints_one_line(answers, capsys):
    checks = [
        (ps06.check_dense_block, (answers["dense_block_channels"], answers["dense_block"]),
         "dense_block"),
        (ps06.check_transition, (answers["Transition"],), "Transition"),
        (ps06.check_separable_conv, (answers["SeparableConv"],), "SeparableConv"),
        (ps06.check_separable_cost, (answers["separable_cost"],), "separable_cost"),
        (ps06.check_inverted_residual, (answers["InvertedResidual"],), "InvertedResidual"),
        (ps06.check_channel_shuffle, (answers["channel_shuffle"],), "channel_shuffle"),
    ]
    for check, args, name in checks:
        check(*args, hidden=True)
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}: ")


def test_dense_channels_reference_matches_the_model_file():
    for k0, k, n, _ in ps06.DENSE_CASES + ps06.DENSE_HIDDEN:
        block = DenseBlock(n, k0, k)
        after = [layer.conv1.in_channels + k for layer in block.layers]
        assert ps06.reference_dense_channels(k0, k, n) == after
        assert after[-1] == block.out_channels


def test_separable_cost_reference_is_measured():
    for c_in, c_out, k, h, w in ps06.COST_CASES + ps06.COST_HIDDEN:
        if h * w > 64 * 64:
            continue  # measuring the 112x112 case adds nothing but time
        layer = nn.Sequential(nn.Conv2d(c_in, c_in, k, padding=k // 2, groups=c_in, bias=False),
                              nn.Conv2d(c_in, c_out, 1, bias=False))
        measured = layer_table(layer, (c_in, h, w))
        assert ps06.reference_separable_cost(c_in, c_out, k, h, w) == (measured.total_params,
                                                                       measured.total_macs)


def test_the_slides_separable_example():
    # 12x12 "same": 5*5*3*144 + 3*256*144; the slide's "60K" mixes in an 8x8 point-wise part
    assert ps06.reference_separable_cost(3, 256, 5, 12, 12) == (843, 121_392)
    assert ps06.reference_separable_cost(3, 256, 5, 8, 8)[1] == 53_952


def test_residual_cases_cover_both_shortcut_rules():
    rules = {InvertedResidual(c_in, c_out, s, t).use_residual
             for c_in, c_out, s, t, _ in ps06.RESIDUAL_CASES}
    assert rules == {True, False}
    hidden = [(s, c_in == c_out) for c_in, c_out, s, _, _ in ps06.RESIDUAL_HIDDEN]
    assert (2, True) in hidden and (1, False) in hidden  # stride 2 alone / channels alone


def test_refuses_the_reference():
    with pytest.raises(AssertionError, match="must be your own code"):
        ps06.check_channel_shuffle(channel_shuffle)


def test_names_the_inverse_shuffle(answers):
    def inverse(x, groups):
        n, c, h, w = x.shape
        return x.reshape(n, c // groups, groups, h, w).transpose(1, 2).reshape(n, c, h, w)

    with pytest.raises(AssertionError, match=r"you used \(3, 2\)"):
        ps06.check_channel_shuffle(inverse)


def test_names_a_missing_shortcut(answers):
    class NoShortcut(answers["InvertedResidual"]):
        def forward(self, x):
            return self.body(x)

    with pytest.raises(AssertionError, match="here it is needed"):
        ps06.check_inverted_residual(NoShortcut)


def test_dense_layers_complain_about_a_wrong_input():
    layer = ps06._CheckedLayer(1, 7, 3, seed=0)
    with pytest.raises(ValueError, match="expects 7 channels"):
        layer(torch.zeros(1, 4, 2, 2))


def test_a_stride_on_the_pointwise_conv_is_caught_by_its_strides(answers):
    # same output as the reference (a strided conv is a subsampled one, and 1x1 conv, BN and
    # ReLU act pixel by pixel), so only the strides can tell
    reference = DepthwiseSeparableConv(6, 10, stride=2).eval()
    moved = copy.deepcopy(reference)
    moved.pointwise[0].stride, moved.depthwise[0].stride = (2, 2), (1, 1)
    x = torch.randn(2, 6, 7, 7)
    with torch.no_grad():
        assert torch.allclose(moved(x), reference(x), atol=1e-6)

    class StrideOnPointwise(answers["SeparableConv"]):
        def __init__(self, in_channels, out_channels, stride=1):
            super().__init__(in_channels, out_channels, 1)
            self.pointwise.stride = (stride, stride)

    with pytest.raises(AssertionError, match="stride belongs on the depth-wise 3x3 conv"):
        ps06.check_separable_conv(StrideOnPointwise)


def test_names_relu_for_relu6(answers):
    class WithReLU(answers["InvertedResidual"]):
        def __init__(self, *args):
            super().__init__(*args)
            for i, layer in enumerate(self.body):
                if isinstance(layer, nn.ReLU6):
                    self.body[i] = nn.ReLU()

    with pytest.raises(AssertionError, match="ReLU6, not ReLU"):
        ps06.check_inverted_residual(WithReLU)
