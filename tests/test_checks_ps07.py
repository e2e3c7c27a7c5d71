"""Problem set 7 (modern networks): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncourse.analysis import layer_table
from cnncourse.checks import ps07
from cnncourse.models.convnext import global_response_norm
from cnncourse.models.efficientnet import MBConv, compound_flops_factor, compound_multipliers
from cnncourse.nas import Controller, SearchSpace, reinforce_gradient
from tests.problem_sets import solutions

ASSIGNMENT = "ps07_modern"


@pytest.fixture(scope="module")
def answers() -> dict:
    return solutions(ASSIGNMENT)


def test_each_checker_prints_one_line(answers, capsys):
    checks = [
        (ps07.check_compound_scaling, (answers["compound_multipliers"],
                                       answers["flops_factor"]), "compound_scaling"),
        (ps07.check_macs_ratio, (answers["scaled_macs_ratio"],), "scaled_macs_ratio"),
        (ps07.check_mbconv, (answers["MBConv"],), "MBConv"),
        (ps07.check_convnext_block, (answers["ConvNeXtBlock"],), "ConvNeXtBlock"),
        (ps07.check_grn, (answers["grn"],), "grn"),
        (ps07.check_reinforce_update, (answers["reinforce_update"],), "reinforce_update"),
    ]
    for check, args, name in checks:
        check(*args, hidden=True)
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}: ")


def _small_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.AdaptiveAvgPool2d(1),
                         nn.Flatten(), nn.Linear(8, 5))


def test_count_macs_agrees_with_the_layer_table_also_on_meta():
    measured = layer_table(_small_net(), (3, 20, 20)).total_macs
    assert ps07.count_macs(_small_net(), 20) == measured
    with torch.device("meta"):
        on_meta = _small_net()
    assert ps07.count_macs(on_meta, 20) == measured


def test_measured_cost_exceeds_the_rule_because_layer_counts_round_up():
    # the rule predicts 1.92 at phi = 1; rounding 1.2 x (1, 2, 2, 3, 3, 4, 1) layers UP adds
    # a block to almost every stage, so the real network costs more
    d, w, r = compound_multipliers(1)
    measured = ps07.reference_macs_ratio(d, w, r)
    assert compound_flops_factor(1) == pytest.approx(1.92, abs=0.01)
    assert 2.0 < measured < 3.0
    assert ps07.reference_macs_ratio(1.0, 1.0, 1.0) == 1.0
    # without depth rounding (d = 1) the measurement and the rule w**2 r**2 nearly agree
    assert ps07.reference_macs_ratio(1.0, w, r) == pytest.approx(w**2 * r**2, rel=0.1)


def test_mbconv_cases_cover_the_shortcut_and_the_missing_expansion():
    cases = ps07.MBCONV_CASES + ps07.MBCONV_HIDDEN
    rules = {MBConv(c_in, c_out, k, s, t).use_residual for c_in, c_out, k, s, t, _ in cases}
    assert rules == {True, False}
    assert any(t == 1 for *_, t, _ in cases)
    assert any(s == 2 and c_in == c_out for c_in, c_out, _, s, _, _ in cases)


def test_convnext_inputs_are_never_square_in_channels():
    # nn.LayerNorm(C) on an un-permuted (N, C, H, W) tensor only runs when W == C: every
    # case must make that mistake fail loudly
    for c, _, shape in ps07.CONVNEXT_CASES + ps07.CONVNEXT_HIDDEN:
        assert shape[1] == c and shape[-1] != c


def test_refuses_the_reference():
    with pytest.raises(AssertionError, match="must be your own code"):
        ps07.check_grn(global_response_norm)


def test_reinforce_checker_names_an_ascent_on_the_loss(answers):
    def ascent(logits, archs, rewards, baseline, lr):
        return [2 * old - new for old, new in
                zip(logits, answers["reinforce_update"](logits, archs, rewards, baseline, lr),
                    strict=True)]

    with pytest.raises(AssertionError, match="moved the wrong way"):
        ps07.check_reinforce_update(ascent)


def test_reinforce_reference_step_raises_the_probability_of_a_good_architecture():
    space = SearchSpace(layers=1)
    controller = Controller(space)
    good = (2, 0, 1)
    grads = reinforce_gradient(controller, [good], [1.0], baseline=0.0)
    new = [logit.detach() - 0.5 * g for logit, g in zip(controller.logits, grads, strict=True)]
    for logit, choice in zip(new, good, strict=True):
        assert torch.softmax(logit, dim=0)[choice] > 1 / len(logit)


def test_grn_checker_names_a_missing_residual(answers):
    def no_residual(x, gamma, beta, eps=1e-6):
        return answers["grn"](x, gamma, beta, eps) - x

    with pytest.raises(AssertionError, match=r"adds its input back"):
        ps07.check_grn(no_residual)
