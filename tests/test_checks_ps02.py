"""Problem set 2 (LeNet): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from cnncourse.analysis import count_parameters
from cnncourse.checks import ps02
from cnncourse.models import get_model
from tests.problem_sets import solutions

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ps02_lenet"


def _solutions() -> dict:
    return solutions(ASSIGNMENT)


FAST_CHECKS = {name: check for name, check in ps02.CHECKS.items() if name != "train_lenet5"}


@pytest.mark.parametrize("name", FAST_CHECKS)
def test_each_fast_checker_prints_one_line(name, capsys):
    answer = _solutions()[name]
    FAST_CHECKS[name](answer, hidden=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}: ")


# --------------------------------------------------------------------------- the checkers' truth
def test_modern_stages_match_the_course_model():
    model = ps02.modern_sequential()
    assert [count_parameters(stage) for stage in model] == ps02.MODERN_PARAMS
    assert sum(ps02.MODERN_PARAMS) == count_parameters(get_model("lenet5_modern")) == 61_706
    x = torch.zeros(1, 1, 32, 32)
    for stage, (_, shape) in zip(model, ps02.MODERN_STAGES, strict=True):
        x = stage(x)
        assert tuple(x.shape[1:]) == shape


def test_checker_refuses_the_course_reference():
    from cnncourse.models.lenet import c3_mask

    with pytest.raises(AssertionError, match="must be your own code"):
        ps02.check_c3_connection_mask(c3_mask)
