"""Problem set 2 (LeNet): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py.
"""

from __future__ import annotations

import contextlib
import io
import random
from pathlib import Path

import pytest
import torch
from torch import nn

from cnncourse.analysis import count_parameters
from cnncourse.checks import ps02
from cnncourse.checks._core import hidden_draws
from cnncourse.grading.cells import cells_by_grade_id
from cnncourse.grading.mutants import parse_mutant
from cnncourse.models import get_model
from cnncourse.models.lenet import C3_TABLE, SparseConv2d, lenet5_modern
from cnncourse.probe import fixtures
from tests.problem_sets import mutant_files, read_notebook, solutions

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "ps02_lenet"
SEEDS = range(20)  # hidden cases as the grader draws them


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny forward passes: a thread team only slows them down on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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
    with pytest.raises(AssertionError, match="must be your own code"):
        ps02.check_lenet5_modern(lenet5_modern)


def test_table_i_case_is_the_papers_layer():
    case = ps02.TABLE_I
    assert case.is_table_i and case.connections == 60 and case.parameters == 1_516
    assert count_parameters(SparseConv2d(6, C3_TABLE)) == case.parameters


def test_a_network_crosses_to_the_probe_with_its_counts():
    """What parameter_counts receives on the probe's side has the judge's children, in the
    same order, with the same parameter counts (the course's LeNet-5 crosses as a plain
    container of torch layers)."""
    nets = [build() for _, build in ps02.COUNT_CASES]
    nets += [net.build() for seed in SEEDS[:5] for net in ps02.counts_hidden(random.Random(seed))]
    for net in nets:
        built = fixtures.make("module", fixtures.module_spec(net).spec)
        assert ([(n, count_parameters(c)) for n, c in built.named_children()]
                == [(n, count_parameters(c)) for n, c in net.named_children()])
        assert [n for n, _ in built.named_buffers()] == [n for n, _ in net.named_buffers()]


def test_untrained_model_fails_on_accuracy_judged_from_the_scores():
    def returns_it_untrained(model, images, labels, seed=0):
        return model

    with pytest.raises(AssertionError, match=r"at least 97% is needed"):
        ps02.check_train_lenet5(returns_it_untrained)

    def returns_the_weights(model, images, labels, seed=0):
        return model.state_dict()

    with pytest.raises(AssertionError, match="return the trained model"):
        ps02.check_train_lenet5(returns_the_weights)


# --------------------------------------------------------------------------- hidden draws
def test_sparse_masks_keep_their_promises():
    for seed in SEEDS:
        for case in ps02.sparse_hidden(random.Random(seed)):
            assert not case.is_table_i
            assert case.parameters != ps02.TABLE_I.parameters  # a Table I layer fails
            assert case.connections < case.out_maps * case.in_maps  # a dense layer fails
            assert all(case.rows) and {i for r in case.rows for i in r} == set(
                range(case.in_maps))
            assert case.x_shape[1] == case.in_maps and min(case.x_shape[2:]) >= ps02.KERNEL
            reference = SparseConv2d(case.in_maps, case.rows)  # the reference accepts it
            assert count_parameters(reference) == case.parameters
            n, _, h, w = case.x_shape
            assert reference(case.x()).shape == (n, case.out_maps, h - 4, w - 4)


def test_tanh_inputs_keep_their_promises():
    for seed in SEEDS:
        maps, tails, anything = ps02.tanh_hidden(random.Random(seed))
        assert maps.x().dim() == 4
        assert tails.x().abs().max() > 20  # deep in the flat tails
        assert anything.x().numel() >= 1


def test_modern_batches_keep_their_promises():
    reference = lenet5_modern().eval()
    for seed in SEEDS:
        noise, pixels = ps02.modern_hidden(random.Random(seed))
        assert noise.x().min() < 0 and 0 <= pixels.x().min() and pixels.x().max() <= 1
        for batch in (noise, pixels):
            assert reference(batch.x()).shape == (batch.size, 10)


def _has(net: nn.Module, test) -> bool:
    return any(test(child) for _, child in net.named_children())


def test_counted_networks_keep_their_promises():
    for seed in SEEDS:
        paper, dense = ps02.counts_hidden(random.Random(seed))
        for spec, x_shape in ((paper, (2, paper.children[0][1][1][0], 32, 32)),
                              (dense, (2, dense.children[0][1][1][0]))):
            net = spec.build().eval()
            assert _has(net, lambda c: count_parameters(c) == 0)
            assert _has(net, lambda c: any(n.endswith("bias") for n, _ in c.named_parameters()))
            # float buffers: what a parameter count must leave out
            assert _has(net, lambda c: any(b.is_floating_point() for b in c.buffers()))
            x = torch.randn(*x_shape)
            for _, child in net.named_children():  # the shapes fit: it is a real network
                x = child(x)
            assert x.dim() == 2
        assert _has(paper.build(), lambda c: count_parameters(c) == 0
                    and any(True for _ in c.buffers()))  # buffers, no parameters
        assert _has(dense.build(), lambda c: any(True for _ in c.children()))  # nested


def test_hidden_draws_depend_on_the_seed_only():
    for draw in (ps02.sparse_hidden, ps02.tanh_hidden, ps02.modern_hidden,
                 ps02.counts_hidden):
        assert draw(random.Random(7)) == draw(random.Random(7))
        assert draw(random.Random(7)) != draw(random.Random(8))


# --------------------------------------------------------------------------- stratified
def _hidden_cells() -> dict[str, str]:
    cells = cells_by_grade_id(read_notebook(ASSIGNMENT))
    return {gid: cell.source for gid, (_, cell) in cells.items() if gid.endswith("_test_hidden")}


HIDDEN_ONLY = [mutant for mutant in map(parse_mutant, mutant_files(ASSIGNMENT))
               if all(gid.endswith("_test_hidden") for gid in mutant.loses)]


def _run(source: str, namespace: dict, seed: int) -> BaseException | None:
    try:
        with hidden_draws(seed), contextlib.redirect_stdout(io.StringIO()):
            exec(compile(source, "<hidden test>", "exec"), namespace)
    except Exception as exc:  # noqa: BLE001 - the outcome under test
        return exc
    return None


def test_there_are_hidden_only_mutants():
    assert {m.name for m in HIDDEN_ONLY} == {
        "c3_mask_map13_misread", "sparse_c3_hardcodes_table", "lenet5_modern_average_pooling",
        "parameter_counts_counts_buffers"}


@pytest.mark.parametrize("mutant", HIDDEN_ONLY, ids=[m.name for m in HIDDEN_ONLY])
def test_every_draw_catches_the_hidden_only_mutants(mutant):
    """A mistake only the hidden cell catches is caught under every draw, with its message;
    the solution passes the same draws."""
    cells = _hidden_cells()
    solved = _solutions()
    wrong = dict(solved)
    exec(compile(mutant.code, f"<mutant {mutant.name}>", "exec"), wrong)
    for gid in mutant.loses:
        for seed in SEEDS:
            assert _run(cells[gid], dict(solved), seed) is None, (gid, seed)
            failure = _run(cells[gid], wrong, seed)
            assert isinstance(failure, AssertionError), (gid, seed, failure)
            assert mutant.message in str(failure), (gid, seed, str(failure))
