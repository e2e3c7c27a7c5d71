"""Conv arithmetic in closed form agrees with the lectures' worked examples, with real torch
modules, and with the per-layer table measured by FlopCounterMode."""

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from cnncourse.analysis import (
    conv_macs,
    conv_output_size,
    conv_params,
    count_macs,
    count_parameters,
    depthwise_separable_macs,
    layer_table,
    linear_macs,
    linear_params,
    receptive_field,
)

# ------------------------------------------------ the lectures' hand-computed examples


def test_one_3x3x3_filter_has_28_parameters():
    assert conv_params(3, 1, 3) == 28
    assert count_parameters(nn.Conv2d(3, 1, 3, padding="same")) == 28


def test_eight_3x3_filters_on_rgb_have_224_parameters():
    assert conv_params(3, 8, 3) == 224
    assert count_parameters(nn.Conv2d(3, 8, 3)) == 224


def test_sixteen_3x3_filters_on_rgb_have_448_parameters():
    assert conv_params(3, 16, 3) == 448


def test_sixteen_5x5_stride_2_same_filters_on_32x32x8():
    assert conv_params(8, 16, 5) == 3_216
    # 'same' with stride 2 in Keras means ceil(32 / 2) outputs: padding 2 gives that here
    assert conv_output_size(32, 5, stride=2, padding=2) == 16
    conv = nn.Conv2d(8, 16, 5, stride=2, padding=2)
    assert conv(torch.zeros(1, 8, 32, 32)).shape == (1, 16, 16, 16)
    assert count_parameters(conv) == 3_216


def test_conv_conv_dense_dense_network_total():
    """32x32x3 -> 8 3x3 'same' -> 16 5x5 stride 2 'same' -> flatten -> 512 -> 4."""
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 16, 5, stride=2, padding=2),
        nn.Flatten(), nn.Linear(16 * 16 * 16, 512), nn.Linear(512, 4),
    )
    # the lecture's sum, term by term
    by_hand = ((8 * 3 * 3 * 3 + 8) + (16 * 5 * 5 * 8 + 16)
               + (16 * 16 * 16 * 512 + 512) + (512 * 4 + 4))
    by_formula = (conv_params(3, 8, 3) + conv_params(8, 16, 5)
                  + linear_params(16 * 16 * 16, 512) + linear_params(512, 4))
    table = layer_table(net, (3, 32, 32))
    assert by_formula == by_hand == count_parameters(net) == table.total_params
    assert table.row("1").output_shape == (16, 16, 16)


def test_floor_and_ceil_output_sizes_differ_when_the_stride_does_not_fit():
    # (6 - 3) / 2 = 1.5: floor keeps 2 windows, ceil a third that hangs over the edge
    assert conv_output_size(6, 3, stride=2) == 2
    assert conv_output_size(6, 3, stride=2, ceil_mode=True) == 3
    x = torch.zeros(1, 1, 6, 6)
    assert nn.MaxPool2d(3, 2)(x).shape[-1] == 2
    assert nn.MaxPool2d(3, 2, ceil_mode=True)(x).shape[-1] == 3
    # when the stride fits exactly, both agree: the lecture's 5x5, k=3, p=1, s=2 -> 3x3 -> 2x2
    assert conv_output_size(5, 3, stride=2, padding=1) == 3
    assert conv_output_size(5, 3, stride=2, padding=1, ceil_mode=True) == 3
    assert conv_output_size(3, 3, stride=2, padding=1) == 2


def test_alexnet_conv1_output_size():
    assert conv_output_size(227, 11, stride=4) == 55


def test_conv_output_size_matches_nn_conv2d_over_a_grid():
    mismatches, checked = [], 0
    for n, kernel, stride, padding, dilation in itertools.product(
            range(4, 12), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2), (1, 2)):
        if dilation * (kernel - 1) + 1 > n + 2 * padding:
            with pytest.raises(ValueError):
                conv_output_size(n, kernel, stride, padding, dilation)
            continue
        conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation)
        got = tuple(conv(torch.zeros(1, 1, n, n + 1)).shape[-2:])
        formula = (conv_output_size(n, kernel, stride, padding, dilation),
                   conv_output_size(n + 1, kernel, stride, padding, dilation))
        checked += 1
        if got != formula:
            mismatches.append((n, kernel, stride, padding, dilation, got, formula))
    assert checked > 400 and not mismatches


def test_conv_output_size_matches_nn_maxpool2d_over_a_grid():
    mismatches, checked = [], 0
    for n, kernel, stride, padding, ceil_mode in itertools.product(
            range(3, 12), (2, 3, 4), (1, 2, 3), (0, 1, 2), (False, True)):
        if padding > kernel // 2 or kernel > n + 2 * padding:
            continue  # torch refuses these
        pool = nn.MaxPool2d(kernel, stride=stride, padding=padding, ceil_mode=ceil_mode)
        got = tuple(pool(torch.zeros(1, 1, n, n + 1)).shape[-2:])
        formula = tuple(conv_output_size(m, kernel, stride, padding, ceil_mode=ceil_mode)
                        for m in (n, n + 1))
        checked += 1
        if got != formula:
            mismatches.append((n, kernel, stride, padding, ceil_mode, got, formula))
    assert checked > 200 and not mismatches


# ------------------------------------------------ receptive fields


def test_three_stacked_3x3_convs_see_7x7():
    assert [rf.size for rf in receptive_field([(3, 1)] * 3)] == [3, 5, 7]


def test_dilated_stack_grows_exponentially():
    layers = [(3, 1, 2 ** i) for i in range(5)]  # dilations 1, 2, 4, 8, 16
    sizes = [rf.size for rf in receptive_field(layers)]
    assert sizes == [2 ** (i + 2) - 1 for i in range(5)]  # 3, 7, 15, 31, 63
    undilated = [rf.size for rf in receptive_field([(3, 1)] * 5)]
    assert undilated == [3, 5, 7, 9, 11]  # linear growth without dilation


def test_strides_multiply_the_jump():
    rows = receptive_field([(3, 2), (3, 2), (3, 2)])
    assert [rf.jump for rf in rows] == [2, 4, 8]
    assert [rf.size for rf in rows] == [3, 7, 15]


def _measured_receptive_field(layers, n=64):
    """Input extent that changes the top-left output unit, found with autograd."""
    modules = [nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False)
               for k, s, d in ((lay[0], lay[1], lay[2] if len(lay) > 2 else 1) for lay in layers)]
    for m in modules:
        nn.init.constant_(m.weight, 1.0)
    x = torch.ones(1, 1, n, n, requires_grad=True)
    y = nn.Sequential(*modules)(x)
    y[0, 0, 0, 0].backward()
    rows_hit = x.grad[0, 0].abs().sum(dim=1).nonzero()
    return int(rows_hit.max() - rows_hit.min() + 1)


@pytest.mark.parametrize("layers", [
    [(3, 1)] * 3,
    [(5, 1), (3, 2), (3, 1)],
    [(3, 1, 1), (3, 1, 2), (3, 1, 4)],
    [(7, 2), (3, 2), (3, 1, 2)],
    [(11, 4), (5, 1), (3, 2)],
])
def test_receptive_field_matches_autograd(layers):
    assert receptive_field(layers)[-1].size == _measured_receptive_field(layers)


# ------------------------------------------------ layer_table against the formulas


def test_alexnet_conv1_row():
    table = layer_table(nn.Conv2d(3, 96, 11, stride=4), (3, 227, 227))
    (row,) = table.rows
    assert row.type == "Conv2d"
    assert row.output_shape == (96, 55, 55)
    assert row.params == 34_944 == conv_params(3, 96, 11)
    assert row.macs == 105_415_200 == conv_macs(3, 96, 11, 55, 55)
    assert row.activation_bytes == 96 * 55 * 55 * 4


CONV_CASES = [  # in, out, kernel, stride, padding, groups, input (H, W)
    (3, 8, 3, 1, 1, 1, (16, 16)),
    (4, 6, (3, 5), 2, (1, 2), 1, (15, 17)),
    (8, 8, 3, 1, 1, 8, (12, 12)),  # depth-wise
    (8, 12, 3, 2, 0, 4, (13, 11)),  # grouped
    (6, 6, (1, 7), 1, (0, 3), 2, (9, 10)),
    (16, 32, 1, 1, 0, 1, (7, 7)),  # point-wise
]


@pytest.mark.parametrize(("c_in", "c_out", "kernel", "stride", "padding", "groups", "hw"),
                         CONV_CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_conv_row_matches_closed_form(c_in, c_out, kernel, stride, padding, groups, hw, bias):
    conv = nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, groups=groups,
                     bias=bias)
    row = layer_table(conv, (c_in, *hw)).rows[0]
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    out_h = conv_output_size(hw[0], kh, stride, ph)
    out_w = conv_output_size(hw[1], kw, stride, pw)
    assert row.output_shape == (c_out, out_h, out_w)
    assert row.params == conv_params(c_in, c_out, (kh, kw), bias=bias, groups=groups)
    assert row.macs == conv_macs(c_in, c_out, (kh, kw), out_h, out_w, groups=groups)


@pytest.mark.parametrize(("c_in", "c_out", "bias"), [(10, 3, True), (256, 128, False)])
def test_linear_row_matches_closed_form(c_in, c_out, bias):
    row = layer_table(nn.Linear(c_in, c_out, bias=bias), (c_in,)).rows[0]
    assert row.params == linear_params(c_in, c_out, bias=bias)
    assert row.macs == linear_macs(c_in, c_out)
    assert row.output_shape == (c_out,)


def test_depthwise_separable_macs_match_the_table():
    block = nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32), nn.Conv2d(32, 64, 1))
    table = layer_table(block, (32, 14, 14))
    assert table.total_macs == depthwise_separable_macs(32, 64, 3, 14, 14)
    standard = layer_table(nn.Conv2d(32, 64, 3, padding=1), (32, 14, 14)).total_macs
    # the MobileNet saving: separable / standard = 1/N + 1/k^2 with N = 64 outputs, k = 3
    assert table.total_macs * 64 * 9 == standard * (9 + 64)


# ------------------------------------------------ the table itself


class _Reordered(nn.Module):
    """Defines its modules in one order and runs them in another; has an unused head, a
    parameter outside any leaf, a functional matmul and a module called twice."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4 * 4 * 4, 5)
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.unused = nn.Linear(7, 7)
        self.scale = nn.Parameter(torch.ones(5, 5))

    def forward(self, x):
        x = self.act(self.conv(x))  # (N, 4, 8, 8)
        x = self.pool(x)  # (N, 4, 4, 4)
        x = self.fc(x.flatten(1))  # (N, 5)
        return self.act(x @ self.scale)  # ReLU runs a second time


def test_rows_follow_execution_order_and_skip_leaves_that_never_ran():
    table = layer_table(_Reordered(), (3, 8, 8))
    assert [r.name for r in table] == ["conv", "act", "pool", "fc"]
    assert len(table) == 4
    assert table.row("act").calls == 2
    assert table.row("act").output_shape == (4, 8, 8)  # the first call's
    assert table.row("act").activation_bytes == (4 * 8 * 8 + 5) * 4  # both calls


def test_totals_cover_parameters_and_macs_outside_the_rows():
    model = _Reordered()
    table = layer_table(model, (3, 8, 8))
    assert table.unlisted_params == 7 * 7 + 7 + 5 * 5  # the unused head and `scale`
    assert table.total_params == count_parameters(model)
    assert table.unlisted_macs == 5 * 5  # x @ scale, in no leaf module
    counter = FlopCounterMode(display=False)
    with counter:
        model(torch.randn(1, 3, 8, 8))
    assert table.total_macs == counter.get_total_flops() // 2
    markdown = table.to_markdown()
    assert "(parameters outside the rows)" in markdown
    assert "(MACs outside leaf modules)" in markdown


def test_layers_without_matmul_or_conv_have_zero_macs():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.AdaptiveAvgPool2d(1))
    table = layer_table(net, (1, 10, 10))
    assert [r.macs for r in table][1:] == [0, 0, 0, 0]
    assert table.row("1").params == 4  # BatchNorm's weight and bias; running stats are buffers


def test_modes_are_restored_and_no_gradients_are_kept():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Dropout(0.5), nn.BatchNorm2d(2))
    net.train()
    net[2].eval()  # e.g. a frozen batch norm inside a model that is training
    before = net[2].running_mean.clone()
    layer_table(net, (1, 6, 6))
    assert net.training and net[0].training and net[1].training and not net[2].training
    assert all(p.grad is None for p in net.parameters())
    assert torch.equal(net[2].running_mean, before)


def test_trainable_counts_and_dtype():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    net[0].requires_grad_(False)
    assert count_parameters(net) == 16 + 10
    assert count_parameters(net, trainable_only=True) == 10
    table = layer_table(net.double(), (3,), dtype=torch.float64)
    assert table.total_trainable_params == 10
    assert table.row("1").activation_bytes == 2 * 8


def test_markdown_has_separators_and_a_total_line():
    table = layer_table(nn.Sequential(nn.Conv2d(3, 96, 11, stride=4), nn.ReLU()), (3, 227, 227))
    lines = table.to_markdown().splitlines()
    assert lines[0].startswith("| layer |")
    assert len(lines) == 2 + len(table) + 1
    assert "34,944" in lines[2] and "105,415,200" in lines[2] and "96 x 55 x 55" in lines[2]
    assert lines[-1].startswith("| **total**")
    assert f"**{table.total_activation_bytes:,}**" in lines[-1]


def test_row_lookup_names_the_layers_on_a_miss():
    table = layer_table(nn.Sequential(nn.Linear(2, 2)), (2,))
    with pytest.raises(KeyError, match="'0'"):
        table.row("fc1")


def test_input_shape_without_batch_dimension_is_checked():
    with pytest.raises(ValueError, match="without the batch"):
        layer_table(nn.Linear(2, 2), (0, 2))


def test_functional_ops_inside_a_leaf_are_attributed_to_it():
    class Attention(nn.Module):  # a leaf: no children, only a parameter and matmuls
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.randn(6, 6))

        def forward(self, x):
            return F.softmax(x @ self.w, dim=-1) @ self.w.T

    table = layer_table(nn.Sequential(Attention()), (4, 6))
    assert table.row("0").macs == 2 * 4 * 6 * 6
    assert table.unlisted_macs == 0


def test_count_macs_on_meta_equals_layer_table_on_real_tensors():
    def build():
        return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                             nn.Conv2d(8, 16, 3, groups=2), nn.Flatten(), nn.LazyLinear(5))

    real = build()
    real(torch.zeros(1, 3, 20, 20))  # materialise the lazy layer
    with torch.device("meta"):
        meta = nn.Sequential(*list(build())[:-1], nn.Linear(16 * 8 * 8, 5))
    assert count_macs(meta, 20) == layer_table(real, (3, 20, 20)).total_macs
    assert count_macs(meta, 20) == 3 * 8 * 9 * 10 * 10 + 4 * 16 * 9 * 8 * 8 + 16 * 64 * 5
