"""Problem set 3: the source notebook's solutions pass every check, each known-wrong answer
(mutant) loses exactly the points it should and for its own reason, the unedited release
loses everything, and the checkers' expected values agree with real torch modules.

The notebook's cells are executed in-process (``exec``), as a kernel would; the nbgrader
pipeline itself is tested by the grading tests.
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

from cnncourse.analysis import count_parameters, layer_table
from cnncourse.checks import ps03
from cnncourse.grading.cells import grade_id, is_solution_cell, is_test_cell
from cnncourse.grading.mutants import apply_mutant, mutant_problems, parse_mutant
from cnncourse.models import get_model
from cnncourse.models.vgg import VGG

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ps03_alexnet_vgg"
NOTEBOOK = ROOT / "exercises" / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
MUTANT_FILES = sorted((ROOT / "exercises" / "mutants" / ASSIGNMENT).glob("*.py"))
PARTS = ["layer_table", "make_vgg", "receptive_field", "grouped_conv", "lrn"]


def read_notebook() -> NotebookNode:
    return nbformat.read(NOTEBOOK, as_version=4)


def run_cells(nb: NotebookNode, *, every_cell: bool = False) -> dict[str, BaseException | None]:
    """Execute the setup, solution and test cells (``every_cell``: all code cells) in one
    fresh namespace; returns, per cell, the exception it raised or None."""
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
    assert nb.metadata.kernelspec.name == "python3"
    ids = [grade_id(c) for c in nb.cells if grade_id(c)]
    assert len(ids) == len(set(ids)), "grade ids must be unique"
    assert grade_id(next(c for c in nb.cells if c.cell_type == "code")) == "setup"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, "outputs not stripped"
    cells = {grade_id(c): c for c in nb.cells if grade_id(c)}
    assert [gid.removesuffix("_solution") for gid in ids if gid.endswith("_solution")] == PARTS
    points = 0
    for part in PARTS:
        solution, test, hidden = (cells[f"{part}_solution"], cells[f"{part}_test"],
                                  cells[f"{part}_test_hidden"])
        assert is_solution_cell(solution)
        assert "### BEGIN SOLUTION" in solution.source and "### END SOLUTION" in solution.source
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
    assert {key: repr(exc) for key, exc in outcome.items() if exc is not None} == {}
    assert len(graded_ids(read_notebook())) == 2 * len(PARTS)


def _solutions() -> dict:
    namespace: dict = {"__name__": "__main__"}
    for cell in read_notebook().cells:
        if grade_id(cell) == "setup" or is_solution_cell(cell):
            exec(compile(cell.source, f"<cell {grade_id(cell)}>", "exec"), namespace)
    return namespace


CHECKS = {
    "layer_table": ps03.check_layer_table,
    "make_vgg": ps03.check_make_vgg,
    "receptive_field": ps03.check_receptive_field,
    "grouped_conv_params": ps03.check_grouped_conv_params,
    "local_response_norm": ps03.check_local_response_norm,
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
def test_there_are_mutants_for_every_part():
    assert len(MUTANT_FILES) >= 10
    replaced = {parse_mutant(p).replaces.removesuffix("_solution") for p in MUTANT_FILES}
    assert replaced == set(PARTS)


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


def test_unedited_release_fails_every_test_with_not_implemented():
    from nbgrader.preprocessors import ClearSolutions

    released, _ = ClearSolutions().preprocess(read_notebook(), {})
    outcome = run_cells(released)
    for gid in graded_ids(released):
        exc = outcome[gid]
        assert isinstance(exc, AssertionError), f"{gid}: {exc!r}"
        assert "raised NotImplementedError" in str(exc)


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


def test_receptive_fields_of_the_famous_stacks():
    assert ps03._rf(ps03.RF_CASES[1]) == (7, 1)
    assert ps03._rf(ps03.RF_CASES[2]) == (195, 32)   # AlexNet's last pool
    assert ps03._rf(ps03.RF_CASES[3]) == (212, 32)   # VGG-16's last pool


def test_lrn_reference_is_the_papers_formula():
    a = ps03._lrn_input(ps03.LRN_CASES[0])
    expected = a / (2.0 + 1e-4 * ps03._window_sum(a * a, 5)) ** 0.75
    torch.testing.assert_close(ps03.reference_lrn(a, 5, 1e-4, 0.75, 2.0), expected)
