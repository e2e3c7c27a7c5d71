"""Every problem set, in-process: the notebook follows the nbgrader contract, its solutions
pass every test cell and self-check, each known-wrong answer (mutant) loses exactly the test
cells it declares and for its own reason, and the unedited release loses everything.

Problem-set-specific truths (the checkers' expected values against real torch modules) live
in test_checks_psNN.py; the real nbgrader pipeline is exercised by test_grading.py.
"""

from __future__ import annotations

import pytest

from cnncourse.grading.cells import grade_id, is_solution_cell, is_test_cell
from cnncourse.grading.mutants import apply_mutant, mutant_problems, parse_mutant
from tests.problem_sets import (
    ASSIGNMENTS,
    graded_ids,
    mutant_files,
    read_notebook,
    release_version,
    run_cells,
)

# Cells that take seconds (a training run): run for the source notebook and for mutants of
# that part, left out elsewhere so the mutant tests stay fast.
SLOW_CELLS = {
    "ps02_lenet": frozenset({"train_lenet5_solution", "train_lenet5_test"}),
    "ps07_modern": frozenset({"macs_ratio_solution", "macs_ratio_test", "macs_ratio_test_hidden"}),
}

MUTANTS = [(a, path) for a in ASSIGNMENTS for path in mutant_files(a)]


def _part(gid: str) -> str:
    for suffix in ("_solution", "_test_hidden", "_test"):
        if gid.endswith(suffix):
            return gid.removesuffix(suffix)
    return gid


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_follows_the_nbgrader_contract(assignment):
    import nbformat

    nb = read_notebook(assignment)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    ids = [grade_id(c) for c in nb.cells if grade_id(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    assert grade_id(next(c for c in nb.cells if c.cell_type == "code")) == "setup"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "outputs not stripped"
    solutions = [c for c in nb.cells if is_solution_cell(c)]
    tests = [c for c in nb.cells if is_test_cell(c)]
    assert solutions and tests
    for cell in solutions:
        assert "### BEGIN SOLUTION" in cell.source and "### END SOLUTION" in cell.source
        # the student sees the signature: the fence is inside the definition
        assert cell.source.lstrip().startswith(("def ", "class ", "import ", "from "))
        assert f"{_part(grade_id(cell))}_test" in ids, f"{grade_id(cell)} has no test cell"
    for cell in tests:
        meta = cell.metadata.nbgrader
        assert meta["locked"] and meta["grade"] and not meta["solution"] and meta["points"] > 0
        if grade_id(cell).endswith("_hidden"):
            assert "### BEGIN HIDDEN TESTS" in cell.source
        else:
            assert "hidden=True" not in cell.source, "visible tests must not run hidden cases"
    assert any(grade_id(c).endswith("_hidden") for c in tests), "no hidden tests"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_passes_every_test_cell_and_every_self_check(assignment, seed):
    """Under several draws of the hidden cases (the grader draws them from a secret)."""
    outcome = run_cells(read_notebook(assignment), every_cell=True, seed=seed)
    assert {key: repr(exc) for key, exc in outcome.items() if exc is not None} == {}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_part_has_a_known_wrong_answer(assignment):
    replaced = {parse_mutant(path).replaces for path in mutant_files(assignment)}
    nb = read_notebook(assignment)
    assert replaced == {grade_id(c) for c in nb.cells if is_solution_cell(c)}


@pytest.mark.parametrize(("assignment", "path"), MUTANTS,
                         ids=[f"{a}/{p.stem}" for a, p in MUTANTS])
def test_mutant_loses_exactly_its_points(assignment, path):
    nb = read_notebook(assignment)
    mutant = parse_mutant(path)
    assert mutant_problems(nb, mutant) == []
    slow = SLOW_CELLS.get(assignment, frozenset())
    skip = frozenset() if mutant.replaces in slow else slow
    outcome = run_cells(apply_mutant(nb, mutant), skip=skip, seed=path.stem)
    messages = []
    for gid in graded_ids(nb):
        if gid in skip:
            continue
        exc = outcome[gid]
        if gid in mutant.loses:
            assert isinstance(exc, AssertionError), f"{gid} should fail, got {exc!r}"
            messages.append(str(exc))
        else:
            assert exc is None, f"{gid} should pass, but: {exc!r}"
    # as `cnncourse verify` judges: the mutant's own message in one of the cells it loses
    assert any(mutant.message in m for m in messages), f"failed for other reasons: {messages}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_unedited_release_fails_every_test_with_not_implemented(assignment):
    released = release_version(read_notebook(assignment))
    for cell in released.cells:
        if is_solution_cell(cell):
            assert "raise NotImplementedError()" in cell.source
    outcome = run_cells(released)
    for gid in graded_ids(released):
        exc = outcome[gid]
        assert isinstance(exc, AssertionError), f"{gid}: {exc!r}"
        assert "NotImplementedError" in str(exc), f"{gid}: {exc}"
