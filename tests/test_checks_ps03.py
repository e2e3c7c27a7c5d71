"""Problem set 3 (AlexNet and VGG): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn as nn

from cnncourse.analysis import count_parameters, layer_table
from cnncourse.checks import ps03
from cnncourse.models import get_model
from cnncourse.models.vgg import VGG
from tests.problem_sets import solutions

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ps03_alexnet_vgg"
PARTS = ["layer_table", "make_vgg", "receptive_field", "grouped_conv", "lrn"]


def _solutions() -> dict:
    return solutions(ASSIGNMENT)


CHECKS = {
    "layer_table": ps03.check_layer_table,
    "make_vgg": ps03.check_make_vgg,
    "receptive_field": ps03.check_receptive_field,
    "grouped_conv_params": ps03.check_grouped_conv_params,
    "grouped_conv_savings": ps03.check_grouped_conv_savings,
    "local_response_norm": ps03.check_local_response_norm,
}


@pytest.mark.parametrize("name", CHECKS)
def test_each_checker_prints_one_line(name, capsys):
    fn = _solutions()[name]
    CHECKS[name](fn, hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}: ")


# --------------------------------------------------------------------------- the checkers' truth
def _torch_modules(layers, in_channels):
    """Real modules for layer specs, to measure what the closed form claims."""
    modules, channels, features = [], in_channels, None
    for layer in layers:
        kind = layer[0]
        if kind == "conv":
            _, filters, kernel, stride, padding, *rest = layer
            modules.append(nn.Conv2d(channels, filters, kernel, stride, padding,
                                     groups=rest[0] if rest else 1))
            channels = filters
        elif kind == "pool":
            modules.append(nn.MaxPool2d(layer[1], layer[2]))
        elif kind == "lrn":
            modules.append(nn.LocalResponseNorm(5))
        elif kind == "flatten":
            modules.append(nn.Flatten())
            features = -1
        else:
            modules.append(nn.LazyLinear(layer[1]) if features == -1 else nn.Linear(
                features, layer[1]))
            features = layer[1]
    return nn.Sequential(*modules)


# the AlexNet cases are measured against the model files in the next test
SMALL_TABLE_CASES = [case for case in ps03.TABLE_CASES + ps03.TABLE_HIDDEN
                     if case[0] not in (ps03.ALEXNET_227, ps03.ALEXNET_2012)]


@pytest.mark.parametrize("layers, shape", SMALL_TABLE_CASES)
def test_layer_table_reference_matches_measured_modules(layers, shape):
    model = _torch_modules(layers, shape[0])
    model(torch.zeros(1, *shape))  # materialise the lazy linear layer
    measured = layer_table(model, shape)
    expected = ps03.reference_layer_table(layers, shape)
    assert [r.output_shape for r in measured] == [row[0] for row in expected]
    assert [r.params for r in measured] == [row[1] for row in expected]
    assert [r.macs for r in measured] == [row[2] for row in expected]


def test_layer_table_reference_on_alexnet_matches_the_model_files():
    for layers, name in ((ps03.ALEXNET_227, "alexnet"), (ps03.ALEXNET_2012, "alexnet2012")):
        rows = ps03.reference_layer_table(layers, (3, 227, 227))
        with torch.device("meta"):
            model = get_model(name)
        assert sum(params for _, params, _ in rows) == count_parameters(model)
        assert rows[-5][0] == (256, 6, 6)


def test_make_vgg_reference_counts_match_the_model_file():
    for _, cfg, kwargs in ps03.VGG_CASES + ps03.VGG_HIDDEN:
        with torch.device("meta"):
            model = VGG(cfg, **kwargs)
        assert ps03.reference_vgg_params(cfg, **kwargs) == count_parameters(model)


def test_make_vgg_cases_cover_every_column_but_a_lrn():
    from cnncourse.models.vgg import VGG_CONFIGS

    graded = {label: cfg for label, cfg, _ in ps03.VGG_CASES + ps03.VGG_HIDDEN}
    for column in ("A", "B", "C", "D", "E"):
        assert graded[column] == VGG_CONFIGS[column]
    published = {"A": 132_863_336, "B": 133_047_848, "C": 133_638_952, "D": 138_357_544,
                 "E": 143_667_240}
    for column, count in published.items():
        assert ps03.reference_vgg_params(graded[column]) == count


def test_grouped_conv_savings_reference_is_the_difference_of_real_convs():
    for case in ps03.SAVINGS_CASES + ps03.SAVINGS_HIDDEN:
        convs = [nn.Conv2d(case["in_channels"], case["out_channels"], case["kernel"],
                           groups=g, device="meta") for g in (1, case["groups"])]
        saved = count_parameters(convs[0]) - count_parameters(convs[1])
        weights = convs[0].weight.numel()
        assert saved == weights - weights // case["groups"]
    # AlexNet: the two GPUs saved exactly what the grouped CONV2, CONV4, CONV5 do
    with torch.device("meta"):
        tower, paper = get_model("alexnet"), get_model("alexnet2012")
    assert count_parameters(tower) - count_parameters(paper) == sum(
        ps03._torch_conv_params({"in_channels": c_in, "out_channels": c_out, "kernel": k})
        - ps03._torch_conv_params({"in_channels": c_in, "out_channels": c_out, "kernel": k,
                                   "groups": 2})
        for c_in, c_out, k in ((96, 256, 5), (384, 384, 3), (384, 256, 3)))


def test_lrn_off_by_one_windows_differ_from_the_formula():
    a = ps03._lrn_input(ps03.LRN_CASES[0])
    right = ps03._lrn_clipped_window(a, 5, 1e-4, 0.75, 2.0, upper=1)
    torch.testing.assert_close(right, ps03.reference_lrn(a, 5, 1e-4, 0.75, 2.0))
    for upper in (0, 2):
        wrong = ps03._lrn_clipped_window(a, 5, 1e-4, 0.75, 2.0, upper=upper)
        assert not torch.allclose(wrong, right, atol=1e-4, rtol=1e-4)


def test_receptive_fields_of_the_famous_stacks():
    assert ps03._rf(ps03.RF_CASES[1]) == (7, 1)
    assert ps03._rf(ps03.RF_CASES[2]) == (195, 32)   # AlexNet's last pool
    assert ps03._rf(ps03.RF_CASES[3]) == (212, 32)   # VGG-16's last pool


def test_lrn_reference_is_the_papers_formula():
    a = ps03._lrn_input(ps03.LRN_CASES[0])
    expected = a / (2.0 + 1e-4 * ps03._window_sum(a * a, 5)) ** 0.75
    torch.testing.assert_close(ps03.reference_lrn(a, 5, 1e-4, 0.75, 2.0), expected)
