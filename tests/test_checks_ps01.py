"""Problem set 1 (convolution by hand): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from cnncourse.analysis import arithmetic
from cnncourse.checks import ps01
from tests.problem_sets import solutions

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ps01_convolution"


def _solutions() -> dict:
    return solutions(ASSIGNMENT)


CHECKS = {
    "conv_output_size": ps01.check_conv_output_size,
    "conv2d_loops": ps01.check_conv2d_loops,
    "conv2d_im2col": ps01.check_conv2d_im2col,
    "count_parameters": ps01.check_count_parameters,
    "maxpool2d_forward": ps01.check_maxpool2d_forward,
    "maxpool2d_backward": ps01.check_maxpool2d_backward,
    "receptive_field": ps01.check_receptive_field,
}


@pytest.mark.parametrize("name", CHECKS)
def test_each_checker_prints_one_line(name, capsys):
    fn = _solutions()[name]
    CHECKS[name](fn, hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}: ")


DRAWS = [random.Random(seed) for seed in range(20)]  # hidden cases as the grader draws them


# --------------------------------------------------------------------------- the checkers' truth
def test_output_size_cases_match_real_convolutions():
    for case in ps01.SIZE_CASES + [c for rng in DRAWS for c in ps01.size_hidden(rng)]:
        conv = nn.Conv2d(1, 1, case.kernel, case.stride, case.padding, case.dilation,
                         device="meta")
        got = conv(torch.empty(1, 1, case.n, case.n, device="meta")).shape[-1]
        assert got == arithmetic.conv_output_size(case.n, case.kernel, case.stride,
                                                  case.padding, case.dilation), case


def test_parameter_counts_match_the_lectures_worked_examples():
    # 32x32x3 input: one 3x3 filter has 28 parameters, eight have 224, sixteen 448; the
    # lecture's network Conv(8)-Conv(16, stride 2)-Flatten-Dense(512)-Dense(4):
    count = ps01.torch_parameter_counts
    assert count([("conv", 1, 3, 1)], (3, 32, 32))[0] == [28]
    assert count([("conv", 8, 3, 1)], (3, 32, 32))[0] == [224]
    assert count([("conv", 16, 3, 1)], (3, 32, 32))[0] == [448]
    counts, inputs = count(ps01.SEED_NETWORK, (3, 32, 32))
    assert counts == [8 * 27 + 8, 16 * 5 * 5 * 8 + 16, 0, 16 * 16 * 16 * 512 + 512, 512 * 4 + 4]
    assert inputs[2] == (16, 16, 16)  # 'same' padding with stride 2 halves 32


def test_parameter_counts_agree_with_the_closed_form():
    for layers, shape in ps01.PARAM_CASES + [c for rng in DRAWS for c in ps01.param_hidden(rng)]:
        counts, inputs = ps01.torch_parameter_counts(layers, shape)
        for layer, n, seen in zip(layers, counts, inputs, strict=True):
            if layer[0] == "conv":
                assert n == arithmetic.conv_params(seen[0], layer[1], layer[2])
                assert layer[2] % 2 == 1  # 'same' as padding k // 2 needs odd kernels
            elif layer[0] == "dense":
                assert n == arithmetic.linear_params(seen[0], layer[1])
            else:
                assert n == 0


def test_the_lectures_pooling_example_is_tie_free():
    # so the expected indices and gradients do not depend on how ties are broken
    x = ps01.SEED_POOL.x()
    windows = torch.nn.functional.unfold(x, 3, stride=1)  # (1, 9, 9)
    top2 = windows.topk(2, dim=1).values
    assert (top2[:, 0] > top2[:, 1]).all()


def test_hidden_draws_keep_their_promises():
    for rng in DRAWS:
        sizes = ps01.size_hidden(rng)
        assert any(c.stride > 1 and (c.n + 2 * c.padding - c.kernel) % c.stride for c in sizes)
        assert any(c.dilation > 1 for c in sizes)
        convs = ps01.conv_hidden(rng)
        assert sum(c.kernel[0] != c.kernel[1] for c in convs) >= 3  # non-square kernels
        pools = ps01.pool_hidden(rng)
        assert any(c.stride is None for c in pools)
        assert any(c.stride is not None and c.stride < c.kernel for c in pools)
        for layers in ps01.rf_hidden(rng):
            assert all(len(layer) in (2, 3) and layer[0] >= 1 for layer in layers)


def test_hidden_draws_depend_on_the_seed_only():
    assert ps01.conv_hidden(random.Random(7)) == ps01.conv_hidden(random.Random(7))
    assert ps01.conv_hidden(random.Random(7)) != ps01.conv_hidden(random.Random(8))


def test_a_square_kernel_answer_is_told_about_non_square_kernels_in_every_draw():
    # the mutant raises on some draws (patch and kernel do not broadcast) and returns the
    # wrong width on others: both must name the mistake, whatever the grader draws
    from cnncourse.checks._core import hidden_draws
    from cnncourse.grading.mutants import parse_mutant

    path = ROOT / "exercises" / "mutants" / ASSIGNMENT / "conv_loops_square_kernels_only.py"
    namespace = {"F": torch.nn.functional, "torch": torch}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    messages = set()
    for seed in range(30):
        with hidden_draws(seed), pytest.raises(AssertionError) as failure:
            ps01.check_conv2d_loops(namespace["conv2d_loops"], hidden=True)
        assert parse_mutant(path).message in str(failure.value), str(failure.value)
        messages.add("raised" in str(failure.value))
    assert messages == {True, False}  # both ways of going wrong were drawn
