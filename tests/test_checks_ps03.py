"""Problem set 3 (AlexNet and VGG): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from cnncourse.analysis import count_parameters, layer_table
from cnncourse.checks import ps03
from cnncourse.grading.mutants import parse_mutant
from cnncourse.models import get_model
from cnncourse.models.vgg import VGG, VGG_CONFIGS
from tests.problem_sets import mutant_files, solutions

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


def test_make_vgg_builds_the_imagenet_columns_on_the_meta_device():
    make_vgg, devices = _solutions()["make_vgg"], []

    def recording(cfg, num_classes=1000, hidden=4096):
        model = make_vgg(cfg, num_classes, hidden)
        devices.append((num_classes, next(model.parameters()).device.type))
        return model

    ps03.check_make_vgg(recording, hidden=True)
    assert {num_classes for num_classes, _ in devices} >= {1000}
    assert all((device == "meta") == (num_classes == 1000) for num_classes, device in devices)


DRAWS = [random.Random(seed) for seed in range(20)]  # hidden cases as the grader draws them


@pytest.fixture
def one_thread():
    """Small modules run many times faster on one thread when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# --------------------------------------------------------------------------- the checkers' truth
def _torch_modules(layers, shape):
    """Real modules for layer specs, to measure what the closed form claims."""
    modules, channels = [], shape[0]
    features = None
    for layer, (out, _, _) in zip(layers, ps03.reference_layer_table(layers, shape),
                                  strict=True):
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
        else:
            modules.append(nn.Linear(features, layer[1]))
        features = math.prod(out)
    return nn.Sequential(*modules)


# the AlexNet cases are measured against the model files in the next test; a few draws
# (running the stems on the CPU takes a second each)
def _small_table_cases():
    drawn = [case for seed in range(2) for case in ps03.table_hidden(random.Random(seed))]
    return [case for case in ps03.TABLE_CASES + drawn
            if case[0] not in (ps03.ALEXNET_227, ps03.ALEXNET_2012)]


def test_layer_table_reference_matches_measured_modules(one_thread):
    for layers, shape in _small_table_cases():
        measured = layer_table(_torch_modules(layers, shape), shape)
        expected = ps03.reference_layer_table(layers, shape)
        assert [r.output_shape for r in measured] == [row[0] for row in expected], layers
        assert [r.params for r in measured] == [row[1] for row in expected], layers
        assert [r.macs for r in measured] == [row[2] for row in expected], layers


def test_layer_table_reference_on_alexnet_matches_the_model_files():
    for layers, name in ((ps03.ALEXNET_227, "alexnet"), (ps03.ALEXNET_2012, "alexnet2012")):
        rows = ps03.reference_layer_table(layers, (3, 227, 227))
        with torch.device("meta"):
            model = get_model(name)
        assert sum(params for _, params, _ in rows) == count_parameters(model)
        assert rows[-5][0] == (256, 6, 6)


def test_make_vgg_reference_counts_match_the_model_file():
    for _, cfg, kwargs in ps03.VGG_CASES + [c for rng in DRAWS for c in ps03.vgg_hidden(rng)]:
        with torch.device("meta"):
            model = VGG(cfg, **kwargs)
        assert ps03.reference_vgg_params(cfg, **kwargs) == count_parameters(model)


def test_make_vgg_cases_are_the_papers_columns():
    published = {"A": 132_863_336, "B": 133_047_848, "C": 133_638_952, "D": 138_357_544,
                 "E": 143_667_240}
    visible = {label: cfg for label, cfg, _ in ps03.VGG_CASES}
    assert visible["A"] == VGG_CONFIGS["A"] and visible["D"] == VGG_CONFIGS["D"]
    columns = set()
    for rng in DRAWS:  # every draw grades one of the other columns
        label, cfg, kwargs = ps03.vgg_hidden(rng)[0]
        assert label in ("B", "C", "E") and cfg == VGG_CONFIGS[label] and kwargs == {}
        columns.add(label)
    assert columns == {"B", "C", "E"}
    for column, count in published.items():
        assert ps03.reference_vgg_params(VGG_CONFIGS[column]) == count


def test_grouped_conv_savings_reference_is_the_difference_of_real_convs():
    for case in ps03.SAVINGS_CASES + [c for rng in DRAWS for c in ps03.savings_hidden(rng)]:
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


def _mutant(stem):
    """A mutant's answer, run as the notebook would define it."""
    mutant = parse_mutant(next(p for p in mutant_files(ASSIGNMENT) if p.stem == stem))
    namespace = {"math": math, "torch": torch, "nn": nn}
    exec(compile(mutant.code, str(mutant.path), "exec"), namespace)
    return namespace


def test_hidden_draws_keep_their_promises():
    rounds_up = _mutant("layer_table_pool_rounds_up")["layer_table"]
    for rng in DRAWS:
        tables = ps03.table_hidden(rng)
        for layers, shape in tables:  # valid: every layer has an output
            assert all(min(out) >= 1 for out, _, _ in ps03.reference_layer_table(layers, shape))
            assert shape[1] != shape[2]  # non-square
        stem, grouped, depthwise, _, _ = tables
        assert ps03.uneven_pools(*stem)  # the rounds-up mutant loses the hidden cell ...
        assert rounds_up(*stem) != ps03.reference_layer_table(*stem)  # ... every time
        assert any(len(layer) == 6 and layer[5] > 1 for layer in grouped[0])
        assert depthwise[0][0][5] == depthwise[1][0]

        vggs = ps03.vgg_hidden(rng)
        assert isinstance(vggs[1][1][0], tuple) and vggs[1][1][0][1] == 1  # 1x1 first
        assert "M" not in vggs[2][1]
        for _, cfg, kwargs in vggs[1:]:
            assert kwargs and ps03._convs_of(cfg) and cfg.count("M") <= 4  # fits 32x32

        stem_rf, pools, single, mixed = ps03.rf_hidden(rng)
        assert {layer[0] for layer in pools} == {"pool"} and len(single) == 1
        assert mixed[0][3] > 1 and len(mixed) >= 3 and ("lrn",) in stem_rf

        for case in ps03.group_hidden(rng) + ps03.savings_hidden(rng):  # torch accepts them
            nn.Conv2d(case["in_channels"], case["out_channels"], case["kernel"],
                      groups=case.get("groups", 1), device="meta")
        depthwise_case, one_by_one, no_bias, resnext = ps03.group_hidden(rng)
        assert depthwise_case["in_channels"] == depthwise_case["groups"] > 1
        assert one_by_one["kernel"] == 1 and one_by_one.get("groups", 1) > 1
        assert no_bias["bias"] is False and no_bias["groups"] > 1
        assert resnext["groups"] == 32
        assert [case["groups"] for case in ps03.savings_hidden(rng)][::3] == [2, 1]

        wide, narrow, constants = ps03.lrn_hidden(rng)
        assert wide["size"] > wide["shape"][1] and narrow["size"] in (1, 3)
        assert {"alpha", "beta", "k"} <= constants.keys()
        assert all(case.get("size", 5) % 2 == 1 for case in (wide, narrow, constants))


def test_hidden_draws_depend_on_the_seed_only():
    for draw in (ps03.table_hidden, ps03.vgg_hidden, ps03.rf_hidden, ps03.group_hidden,
                 ps03.savings_hidden, ps03.lrn_hidden):
        assert draw(random.Random(7)) == draw(random.Random(7))
        assert draw(random.Random(7)) != draw(random.Random(8))
