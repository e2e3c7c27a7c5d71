"""Problem set 4 (Inception): what its checkers hold true.
The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

from cnncourse.analysis import layer_table
from cnncourse.checks import ps04
from cnncourse.losses import label_smoothing_cross_entropy
from cnncourse.models.inception import Inception
from cnncourse.normalization import batch_norm_2d
from tests.problem_sets import solutions

ASSIGNMENT = "ps04_inception"

CHECKS = {
    "InceptionModule": ps04.check_inception_module,
    "module_macs": ps04.check_module_macs,
    "batch_norm": ps04.check_batch_norm,
    "factorized_conv": ps04.check_factorized_conv,
    "label_smoothing_loss": ps04.check_label_smoothing_loss,
}


@pytest.mark.parametrize("name", CHECKS)
def test_each_checker_prints_one_line(name, capsys):
    CHECKS[name](solutions(ASSIGNMENT)[name], hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}: ")


DRAWS = [random.Random(seed) for seed in range(20)]  # hidden cases as the grader draws them


@pytest.fixture
def one_thread():
    """Small modules run many times faster on one thread when the cores are busy."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_module_cases_have_unique_conv_shapes():
    # the checker sends its weights to the student's convolutions matched by shape
    for c_in, spec, _ in ps04.MODULE_CASES + [c for rng in DRAWS for c in ps04.module_hidden(rng)]:
        with torch.device("meta"):
            shapes = [tuple(c.weight.shape) for c in Inception(c_in, spec).modules()
                      if isinstance(c, nn.Conv2d)]
        assert len(shapes) == len(set(shapes)) == 6, (c_in, spec)


def test_reduced_macs_match_the_measured_module(one_thread):
    # a few draws: a GoogLeNet-sized module takes a second to run on the CPU
    drawn = [case for seed in range(2) for case in ps04.macs_hidden(random.Random(seed))]
    for c_in, spec, size in ps04.MACS_CASES + drawn:
        measured = layer_table(Inception(c_in, spec), (c_in, size, size)).total_macs
        assert ps04.reference_module_macs(c_in, spec, size)[1] == measured, (c_in, spec, size)


def test_naive_macs_of_module_3a():
    naive, reduced = ps04.reference_module_macs(192, (64, 96, 128, 16, 32, 32), 28)
    assert naive == 28 * 28 * 192 * (64 + 128 * 9 + 32 * 25) and naive > 2 * reduced


def test_factorized_reference_keeps_the_size_and_saves_parameters():
    block = ps04.reference_factorized(8, 8, 7)
    assert block(torch.zeros(1, 8, 9, 9)).shape == (1, 8, 9, 9)
    assert sum(p.numel() for p in block.parameters()) == 2 * (8 * 8 * 7 + 8)


@pytest.mark.parametrize(("name", "reference"), [
    ("batch_norm", batch_norm_2d), ("label_smoothing_loss", label_smoothing_cross_entropy)])
def test_checkers_refuse_the_course_reference(name, reference):
    with pytest.raises(AssertionError, match="must be your own code"):
        CHECKS[name](reference)


def test_batch_norm_checker_catches_a_missing_momentum():
    def no_momentum(x, gamma, beta, running_mean, running_var, training, momentum=0.1,
                    eps=1e-5):
        if training:
            mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), unbiased=False)
            running_mean.copy_(mean)
            running_var.copy_(x.var(dim=(0, 2, 3)))
        else:
            mean, var = running_mean, running_var
        shape = (1, -1, 1, 1)
        return (gamma.view(shape) * (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)
                + beta.view(shape))

    with pytest.raises(AssertionError, match="running_mean after a training-mode call"):
        ps04.check_batch_norm(no_momentum)


def test_label_smoothing_checker_names_the_unstable_log():
    def log_of_softmax(logits, target, smoothing=0.1):
        k = logits.shape[1]
        q = torch.full_like(logits, smoothing / k)
        q[torch.arange(len(target)), target] += 1 - smoothing
        return -(q * torch.log(torch.softmax(logits, dim=1) + 1e-3)).sum(dim=1).mean()

    with pytest.raises(AssertionError, match="loss values differ"):
        ps04.check_label_smoothing_loss(log_of_softmax)


def test_batch_norm_checker_reads_the_statistics_the_call_left():
    # the running statistics cross back from the probe: updating them in place passes,
    # rebinding the names fails with the in-place hint
    def rebinds(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
        y = solutions(ASSIGNMENT)["batch_norm"](x, gamma, beta, running_mean.clone(),
                                                 running_var.clone(), training, momentum, eps)
        running_mean = running_mean * 0  # a new tensor: the caller's is unchanged
        return y

    with pytest.raises(AssertionError, match="IN PLACE"):
        ps04.check_batch_norm(rebinds)


def test_hidden_draws_keep_their_promises():
    for rng in DRAWS:
        grid_1x1, larger = ps04.module_hidden(rng)
        assert grid_1x1[2] == 1 < larger[2]
        for _, spec, _ in (grid_1x1, larger):
            assert len({spec[0], spec[1], spec[3], spec[5]}) == 4 and min(spec) >= 1
        big, small = ps04.macs_hidden(rng)
        assert big[0] >= 192 and big[2] in (7, 14, 28) and len(big[1]) == len(small[1]) == 6
        tiny, momentum = ps04.bn_hidden(rng)
        assert tiny["shape"][0] <= 3 and tiny["shape"][2:] == (1, 1) and "eps" in tiny
        assert momentum["momentum"] < 0.1
        for case in (tiny, momentum):  # torch's module accepts them
            nn.BatchNorm2d(case["shape"][1], **{k: case[k] for k in ("momentum", "eps")
                                                 if k in case})
        on_grid, on_1x1 = ps04.factor_hidden(rng)
        assert on_grid[3] >= on_grid[2] and on_1x1[3] == 1
        assert all(n % 2 == 1 for _, _, n, _ in (on_grid, on_1x1))  # padding n // 2 keeps it
        one, large, _ = ps04.ls_hidden(rng)
        assert one["n"] == 1 and one["smoothing"] == 0.0 and large["scale"] >= 20


def test_hidden_draws_depend_on_the_seed_only():
    for draw in (ps04.module_hidden, ps04.macs_hidden, ps04.bn_hidden, ps04.factor_hidden,
                 ps04.ls_hidden):
        assert draw(random.Random(7)) == draw(random.Random(7))
        assert draw(random.Random(7)) != draw(random.Random(8))
