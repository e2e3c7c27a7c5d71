"""Problem set 1: the source notebook's solutions pass every check, each known-wrong answer
(mutant) loses exactly the points it should and for its own reason, and the unedited
release loses everything with a message naming NotImplementedError.

The notebook's cells are executed in-process (``exec``), which is what a kernel does with
them; the nbgrader pipeline itself is tested by the grading tests.
"""

from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import nbformat
import pytest
import torch
import torch.nn as nn
from nbformat import NotebookNode

from cnncourse.analysis import arithmetic
from cnncourse.checks import ps01
from cnncourse.grading.cells import grade_id, is_solution_cell, is_test_cell
from cnncourse.grading.mutants import apply_mutant, mutant_problems, parse_mutant

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ps01_convolution"
NOTEBOOK = ROOT / "exercises" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
MUTANT_FILES = sorted((ROOT / "exercises" / "mutants" / ASSIGNMENT).glob("*.py"))


def read_notebook() -> NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


def run_cells(nb: NotebookNode, *, every_cell: bool = False) -> dict[str, BaseException | None]:
    """Execute the setup, solution and test cells (``every_cell``: all code cells) in one
    fresh namespace, as a kernel would; returns, per cell, the exception it raised or None.
    Cells are keyed by grade id, or by cell id for ordinary cells."""
    namespace: dict = {"__name__": "__main__"}
    outcome: dict[str, BaseException | None] = {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        key = grade_id(cell) or cell.get("id")
        if not (every_cell or grade_id(cell)):
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
    assert (nb.nbformat, nb.nbformat_minor) >= (4, 5)
    assert nb.metadata.kernelspec.name == "python3"
    ids = [grade_id(c) for c in nb.cells if grade_id(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    assert grade_id(next(c for c in nb.cells if c.cell_type == "code")) == "setup"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "outputs not stripped"
    parts = [gid.removesuffix("_solution") for gid in ids if gid.endswith("_solution")]
    assert len(parts) == 7
    points = 0
    for part in parts:
        cells = {grade_id(c): c for c in nb.cells if grade_id(c)}
        solution, test, hidden = (cells[f"{part}_solution"], cells[f"{part}_test"],
                                  cells[f"{part}_test_hidden"])
        assert is_solution_cell(solution)
        assert "### BEGIN SOLUTION" in solution.source and "### END SOLUTION" in solution.source
        # the signature stays visible in the student's version: the def is outside the fence
        assert solution.source.lstrip().startswith("def ")
        for cell in (test, hidden):
            meta = cell.metadata.nbgrader
            assert meta["locked"] and meta["grade"] and not meta["solution"]
            points += meta["points"]
        assert "hidden=True" not in test.source
        assert "### BEGIN HIDDEN TESTS" in hidden.source and "hidden=True" in hidden.source
    assert points == 20


def test_source_notebook_passes_every_test_cell_and_every_self_check():
    outcome = run_cells(read_notebook(), every_cell=True)
    failures = {key: repr(exc) for key, exc in outcome.items() if exc is not None}
    assert failures == {}
    assert len(graded_ids(read_notebook())) == 14


def _solutions() -> dict:
    """The notebook's own solution functions (setup and solution cells executed)."""
    namespace: dict = {"__name__": "__main__"}
    for cell in read_notebook().cells:
        if grade_id(cell) == "setup" or is_solution_cell(cell):
            exec(compile(cell.source, f"<cell {grade_id(cell)}>", "exec"), namespace)
    return namespace


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
def test_each_checker_is_fast_and_prints_one_line(name, capsys):
    fn = _solutions()[name]
    start = time.perf_counter()
    CHECKS[name](fn, hidden=True)
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"check of {name} took {elapsed:.2f} s"
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}: ")


# --------------------------------------------------------------------------- mutants
def test_there_are_mutants():
    assert len(MUTANT_FILES) >= 10


@pytest.mark.parametrize("path", MUTANT_FILES, ids=[p.stem for p in MUTANT_FILES])
def test_mutant_loses_exactly_its_points(path):
    nb = read_notebook()
    mutant = parse_mutant(path)
    assert mutant_problems(nb, mutant) == []
    outcome = run_cells(apply_mutant(nb, mutant))
    for gid in graded_ids(nb):
        exc = outcome[gid]
        if gid in mutant.loses:
            assert isinstance(exc, AssertionError), f"{gid} should fail, got {exc!r}"
            assert mutant.message in str(exc), f"{gid} failed for another reason: {exc}"
        else:
            assert exc is None, f"{gid} should pass, but: {exc!r}"


def _release_version(nb: NotebookNode) -> NotebookNode:
    from nbgrader.preprocessors import ClearSolutions

    released, _ = ClearSolutions().preprocess(nb, {})
    return released


def test_unedited_release_fails_every_test_with_not_implemented():
    released = _release_version(read_notebook())
    for cell in released.cells:
        if is_solution_cell(cell):
            assert cell.source.lstrip().startswith("def ")  # the student sees the signature
            assert "raise NotImplementedError()" in cell.source
    outcome = run_cells(released)
    for gid in graded_ids(released):
        exc = outcome[gid]
        assert isinstance(exc, AssertionError), f"{gid}: {exc!r}"
        assert "raised NotImplementedError" in str(exc)
        assert "replace the `raise NotImplementedError()`" in str(exc)


# --------------------------------------------------------------------------- the checkers' truth
def test_output_size_cases_match_real_convolutions():
    for case in ps01.SIZE_CASES + ps01.SIZE_HIDDEN:
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
    for layers, shape in ps01.PARAM_CASES + ps01.PARAM_HIDDEN:
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
