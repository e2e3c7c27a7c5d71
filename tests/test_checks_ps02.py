"""Problem set 2: the source notebook's solutions pass every check, each known-wrong answer
(mutant) loses exactly the points it should and for its own reason, and the unedited release
loses everything with a message naming NotImplementedError.

The notebook's cells are executed in-process (``exec``), as a kernel would run them; the
nbgrader pipeline itself is exercised by ``cnncourse verify ps02_lenet``. The training part
takes tens of seconds, so it runs once for the source and only for the mutants that replace
its own solution: the training cell uses nothing but its own solution (the checker hands it
the model), so no other mutant can change its outcome.
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import nbformat
import pytest
import torch
from nbformat import NotebookNode

from cnncourse.analysis import count_parameters
from cnncourse.checks import ps02
from cnncourse.grading.cells import grade_id, is_solution_cell, is_test_cell
from cnncourse.grading.mutants import apply_mutant, mutant_problems, parse_mutant
from cnncourse.models import get_model

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ps02_lenet"
NOTEBOOK = ROOT / "exercises" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
MUTANT_FILES = sorted((ROOT / "exercises" / "mutants" / ASSIGNMENT).glob("*.py"))
TRAINING_IDS = {"train_lenet5_solution", "train_lenet5_test"}


def read_notebook() -> NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


def run_cells(nb: NotebookNode, *, every_cell: bool = False, training: bool = True
              ) -> dict[str, BaseException | None]:
    """Execute the setup, solution and test cells (``every_cell``: all code cells) in one
    fresh namespace; returns, per cell, the exception it raised or None. ``training=False``
    leaves out the training part's cells."""
    namespace: dict = {"__name__": "__main__"}
    outcome: dict[str, BaseException | None] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        key = grade_id(cell) or cell.get("id")
        if not (every_cell or grade_id(cell)) or (not training and key in TRAINING_IDS):
            continue
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(cell.source, f"<cell {key}>", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - a failing cell is an outcome, as in nbgrader
            outcome[key] = exc
        else:
            outcome[key] = None
    return outcome


def graded_ids(nb: NotebookNode) -> list[str]:
    return [grade_id(cell) for cell in nb.cells if is_test_cell(cell)]


# --------------------------------------------------------------------------- the notebook itself
def test_notebook_follows_the_nbgrader_contract():
    nb = read_notebook()
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    ids = [grade_id(c) for c in nb.cells if grade_id(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    assert grade_id(next(c for c in nb.cells if c.cell_type == "code")) == "setup"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "outputs not stripped"
    cells = {grade_id(c): c for c in nb.cells if grade_id(c)}
    parts = [gid.removesuffix("_solution") for gid in ids if gid.endswith("_solution")]
    assert parts == ["c3_mask", "sparse_c3", "scaled_tanh", "lenet5_modern",
                     "parameter_counts", "train_lenet5"]
    points = 0
    for part in parts:
        solution = cells[f"{part}_solution"]
        assert is_solution_cell(solution)
        assert "### BEGIN SOLUTION" in solution.source and "### END SOLUTION" in solution.source
        assert solution.source.lstrip().startswith(("def ", "class "))
        tests = [cells[g] for g in (f"{part}_test", f"{part}_test_hidden") if g in cells]
        for cell in tests:
            meta = cell.metadata.nbgrader
            assert meta["locked"] and meta["grade"] and not meta["solution"]
            points += meta["points"]
        assert "hidden=True" not in cells[f"{part}_test"].source
        if f"{part}_test_hidden" in cells:
            hidden = cells[f"{part}_test_hidden"].source
            assert "### BEGIN HIDDEN TESTS" in hidden and "hidden=True" in hidden
    assert points == 20


def test_source_notebook_passes_every_test_cell_and_every_self_check():
    start = time.perf_counter()
    outcome = run_cells(read_notebook(), every_cell=True)
    failures = {key: repr(exc) for key, exc in outcome.items() if exc is not None}
    assert failures == {}
    assert len(graded_ids(read_notebook())) == 11
    assert time.perf_counter() - start < ps02.TRAINING_SECONDS


def _solutions() -> dict:
    namespace: dict = {"__name__": "__main__"}
    for cell in read_notebook().cells:
        if grade_id(cell) == "setup" or is_solution_cell(cell):
            exec(compile(cell.source, f"<cell {grade_id(cell)}>", "exec"), namespace)
    return namespace


FAST_CHECKS = {name: check for name, check in ps02.CHECKS.items() if name != "train_lenet5"}


@pytest.mark.parametrize("name", FAST_CHECKS)
def test_each_fast_checker_is_fast_and_prints_one_line(name, capsys):
    answer = _solutions()[name]
    start = time.perf_counter()
    FAST_CHECKS[name](answer, hidden=True)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"check of {name} took {elapsed:.2f} s"
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}: ")


# --------------------------------------------------------------------------- mutants
def test_there_are_mutants_for_every_part():
    assert len(MUTANT_FILES) >= 15
    replaced = {parse_mutant(path).replaces for path in MUTANT_FILES}
    nb = read_notebook()
    assert replaced == {grade_id(c) for c in nb.cells if is_solution_cell(c)}


@pytest.mark.parametrize("path", MUTANT_FILES, ids=[p.stem for p in MUTANT_FILES])
def test_mutant_loses_exactly_its_points(path):
    nb = read_notebook()
    mutant = parse_mutant(path)
    assert mutant_problems(nb, mutant) == []
    training = mutant.replaces == "train_lenet5_solution"
    outcome = run_cells(apply_mutant(nb, mutant), training=training)
    messages = []
    for gid in graded_ids(nb):
        if gid not in outcome:
            assert not training and gid in TRAINING_IDS
            continue
        exc = outcome[gid]
        if gid in mutant.loses:
            assert isinstance(exc, AssertionError), f"{gid} should fail, got {exc!r}"
            messages.append(str(exc))
        else:
            assert exc is None, f"{gid} should pass, but: {exc!r}"
    # as `cnncourse verify` judges: the mutant's own message in one of the lost cells
    assert any(mutant.message in m for m in messages), f"failed for other reasons: {messages}"


def _release_version(nb: NotebookNode) -> NotebookNode:
    from nbgrader.preprocessors import ClearSolutions

    released, _ = ClearSolutions().preprocess(nb, {})
    return released


def test_unedited_release_fails_every_test_with_not_implemented():
    released = _release_version(read_notebook())
    for cell in released.cells:
        if is_solution_cell(cell):
            assert cell.source.lstrip().startswith(("def ", "class "))
            assert "raise NotImplementedError()" in cell.source
    outcome = run_cells(released)
    for gid in graded_ids(released):
        exc = outcome[gid]
        assert isinstance(exc, AssertionError), f"{gid}: {exc!r}"
        assert "raised NotImplementedError" in str(exc)
        assert "replace the `raise NotImplementedError()`" in str(exc)


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
