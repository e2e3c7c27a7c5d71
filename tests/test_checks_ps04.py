"""Problem set 4 (Inception): what its checkers hold true.
The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py."""

from __future__ import annotations

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


@pytest.mark.parametrize(("c_in", "spec", "size"), ps04.MODULE_CASES + ps04.MODULE_HIDDEN)
def test_module_cases_have_unique_conv_shapes(c_in, spec, size):
    # the checker copies its weights into the student's convolutions matched by shape
    with torch.device("meta"):
        shapes = [tuple(c.weight.shape) for c in Inception(c_in, spec).modules()
                  if isinstance(c, nn.Conv2d)]
    assert len(shapes) == len(set(shapes)) == 6


@pytest.mark.parametrize(("c_in", "spec", "size"), ps04.MACS_CASES + ps04.MACS_HIDDEN)
def test_reduced_macs_match_the_measured_module(c_in, spec, size):
    measured = layer_table(Inception(c_in, spec), (c_in, size, size)).total_macs
    assert ps04.reference_module_macs(c_in, spec, size)[1] == measured


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
