"""Problem set 6 (efficient convolutions): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py.
"""

from __future__ import annotations

import copy
import random

import pytest
import torch
from torch import nn

from cnncourse.analysis import layer_table
from cnncourse.checks import ps06
from cnncourse.checks._core import hidden_draws
from cnncourse.models.densenet import DenseBlock
from cnncourse.models.mobilenet import DepthwiseSeparableConv, InvertedResidual
from cnncourse.models.shufflenet import channel_shuffle
from cnncourse.probe import fixtures
from cnncourse.probe.guard import resolve
from tests.problem_sets import solutions

ASSIGNMENT = "ps06_efficient"


def draws(count: int = 20) -> list[random.Random]:
    """Fresh draws of the hidden cases, as the grader makes them (one per grade id)."""
    return [random.Random(seed) for seed in range(count)]


@pytest.fixture(scope="module")
def answers() -> dict:
    return solutions(ASSIGNMENT)


@pytest.fixture
def one_thread():
    """Tiny tensors: one thread is fastest, and far faster while other jobs load the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    for k0, k, n, _ in ps06.DENSE_CASES + [c for rng in draws() for c in ps06.dense_hidden(rng)]:
        block = DenseBlock(n, k0, k)
        after = [layer.conv1.in_channels + k for layer in block.layers]
        assert ps06.reference_dense_channels(k0, k, n) == after
        assert after[-1] == block.out_channels


def test_separable_cost_reference_is_measured(one_thread):
    drawn = [c for rng in draws(3) for c in ps06.cost_hidden(rng)]
    for c_in, c_out, k, h, w in ps06.COST_CASES + drawn:
        if h * w > 64 * 64 or c_in * c_out * h * w > 4_000_000:
            continue  # measuring the 112x112 case or the widest draws adds nothing but time
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


def test_hidden_draws_keep_their_promises():
    for rng in draws():
        dense = ps06.dense_hidden(rng)
        assert any(n >= 5 for _, _, n, _ in dense) and any(n == 1 for _, _, n, _ in dense)
        costs = ps06.cost_hidden(rng)
        assert any(h != w for *_, h, w in costs) and any(k == 1 for _, _, k, _, _ in costs)
        assert all(c_in != c_out for c_in, c_out, *_ in costs)
        blocks = ps06.residual_hidden(rng)
        # t == 1 in every draw: a block that always expands loses the hidden cell, always
        assert any(t == 1 for *_, t, _ in blocks)
        shapes = [(s, c_in == c_out) for c_in, c_out, s, _, _ in blocks]
        assert (2, True) in shapes and (1, False) in shapes and (1, True) in shapes
        shuffles = ps06.shuffle_hidden(rng)
        # the inverse shuffle differs from the shuffle (groups != channels // groups)
        assert any(g != shape[1] // g and 1 < g < shape[1] for shape, g in shuffles)


def test_hidden_draws_are_valid(one_thread):
    for rng in draws():
        for k0, k, n, size in ps06.dense_hidden(rng):
            layers = ps06.dense_layers(k0, k, n, seed=1)
            features = [torch.zeros(1, k0, size, size)]
            for layer in layers:
                features.append(layer(torch.cat(features, dim=1)))
            assert torch.cat(features, dim=1).shape[1] == ps06.reference_dense_channels(
                k0, k, n)[-1]
        for c_in, c_out, k, h, w in ps06.cost_hidden(rng):
            assert min(c_in, c_out, k, h, w) >= 1
        for c_in, c_out, s, t, size in ps06.residual_hidden(rng):
            out = InvertedResidual(c_in, c_out, s, t).eval()(torch.zeros(1, c_in, size, size))
            assert out.shape[1] == c_out
        for shape, groups in ps06.shuffle_hidden(rng):
            assert channel_shuffle(torch.zeros(shape), groups).shape == shape


def test_the_answers_pass_every_draw(answers, capsys):
    # the one function check compared with a tolerance (the others are exact), under 20
    # draws: a draw the reference's own answer fails would cost a right answer
    for seed in range(20):
        with hidden_draws(seed):
            ps06.check_dense_block(answers["dense_block_channels"], answers["dense_block"],
                                   hidden=True)
    assert len(capsys.readouterr().out.splitlines()) == 20


def test_hidden_draws_depend_on_the_seed_only():
    for draw in (ps06.dense_hidden, ps06.cost_hidden, ps06.residual_hidden,
                 ps06.shuffle_hidden):
        assert draw(random.Random(7)) == draw(random.Random(7))
    assert ps06.residual_hidden(random.Random(7)) != ps06.residual_hidden(random.Random(8))


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


def test_dense_layers_cross_to_the_probe_unchanged():
    layers = ps06.dense_layers(4, 3, 3, seed=5)
    built = fixtures.make("module", fixtures.module_spec(layers).spec)
    x = torch.randn(1, 10, 4, 4)
    assert torch.equal(built[2](x), layers[2](x))


def test_a_layer_fed_the_wrong_tensor_is_named():
    # the hint reads which layer complained from torch's own message: keep it readable
    layers = ps06.dense_layers(4, 3, 3, seed=5)
    with pytest.raises(RuntimeError) as error:
        layers[1](torch.zeros(1, 3, 4, 4))
    hint = ps06._dense_raised_hint({"message": str(error.value)}, 4, 3, 3)
    assert hint.startswith("layer 2 expects 7 channels") and hint.endswith("got 3.")


def test_forbidden_functions_exist():
    for _, paths in ps06.FORBIDDEN.values():
        for path in paths:
            resolve(path)


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
