"""The tabular NAS benchmark: the cell space, the searches over a synthetic table
(regularised evolution's aging, REINFORCE's baseline), and the stored table's claims."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cnncourse import lab
from cnncourse.lab import registry
from cnncourse.lab.experiments import nas_bench
from cnncourse.lab.results import results_root
from cnncourse.nas.cell import (
    EDGES,
    OPS,
    CellNet,
    CellSpace,
    all_cells,
    canonical,
    cell_index,
    cell_label,
    live_edges,
    parse_label,
)
from cnncourse.nas.drawing import cell_diagram, cell_network_diagram
from cnncourse.nas.evolution import mutate, regularized_evolution
from cnncourse.nas.search import random_search, reinforce_search
from cnncourse.nas.tabular import (
    BenchTable,
    distinct_cells,
    incumbents,
    mean_and_band,
    random_expectation,
    run_search,
    run_searches,
    search_runs,
    training_cost,
)

SPACE = CellSpace()
TABLE = BenchTable.synthetic(0)


# ------------------------------------------------------------------ the cell space
def test_the_space_has_every_cell_once_in_index_order():
    cells = all_cells()
    assert len(cells) == SPACE.size == 3 ** 6
    assert [cell_index(a) for a in cells] == list(range(len(cells)))
    assert all(parse_label(cell_label(a)) == a for a in cells)
    assert cell_label((2, 1, 0, 0, 1, 2)) == (
        "|conv3x3~0|+|skip~0|none~1|+|none~0|skip~1|conv3x3~2|")


def test_dead_edges_do_not_count():
    skip, conv, none = (OPS.index(o) for o in ("skip", "conv3x3", "none"))
    # node 1 feeds nothing: its edge 0->1 is dead; 0->3 carries the output
    arch = (conv, none, none, skip, none, none)
    assert live_edges(arch) == [(0, 3)]
    assert canonical(arch) == (none, none, none, skip, none, none)
    # nothing reaches node 3: every edge is dead, the network sees nothing
    assert live_edges((conv, conv, conv, none, none, none)) == []
    assert len({canonical(a) for a in all_cells()}) == len(nas_bench.networks(
        nas_bench.CONFIG)) == 291


def test_a_cell_net_classifies_and_a_dead_cell_sees_nothing():
    torch.manual_seed(0)
    x = torch.randn(4, 1, 14, 14)
    net = CellNet((2, 1, 2, 1, 0, 2), width=4, in_channels=1).eval()
    assert net(x).shape == (4, 10)
    dead = CellNet((2, 2, 2, 0, 0, 0), width=4, in_channels=1).eval()
    out = dead(x)
    assert torch.allclose(out, out[:1].expand_as(out))  # the same logits for every image
    assert len(list(dead.features[2].edges)) == 3 and len(EDGES) == 6


# ------------------------------------------------------------------ searches, synthetic table
def test_mutation_changes_exactly_one_decision():
    rng = np.random.default_rng(0)
    for arch in all_cells()[::37]:
        child = mutate(SPACE, arch, rng)
        assert sum(a != b for a, b in zip(arch, child, strict=True)) == 1


def test_regularised_evolution_retires_the_oldest():
    budget, population = 60, 10
    result = regularized_evolution(SPACE, TABLE.reward(), budget, population=population,
                                   sample=3, seed=1)
    assert len(result.archs) == len(result.rewards) == budget
    # aging: every cycle removes the member that has been there longest, in birth order
    assert result.removed == list(range(budget - population))
    # each child is one mutation away from some member that was alive
    for k in range(population, budget):
        alive = set(range(k - population, k))
        assert any(sum(a != b for a, b in zip(result.archs[k], result.archs[i], strict=True))
                   == 1 for i in alive)


def test_without_aging_the_worst_is_removed():
    result = regularized_evolution(SPACE, TABLE.reward(), 60, population=10, sample=3,
                                   seed=1, aging=False)
    alive = set(range(10))
    for k, gone in zip(range(10, 60), result.removed, strict=True):
        alive.add(k)
        assert result.rewards[gone] == min(result.rewards[i] for i in alive)
        alive.remove(gone)
    with pytest.raises(ValueError, match="sample <= population"):
        regularized_evolution(SPACE, TABLE.reward(), 60, population=5, sample=6)


def test_reinforce_baseline_is_the_moving_average_of_the_batches():
    decay, batch = 0.8, 4
    result = reinforce_search(SPACE, TABLE.reward(), 40, batch_size=batch, decay=decay,
                              seed=3)
    means = [float(np.mean(result.rewards[i:i + batch])) for i in range(0, 40, batch)]
    expected, b = [], None
    for mean in means:
        expected.append(mean if b is None else b)  # the first batch is its own baseline
        b = mean if b is None else decay * b + (1 - decay) * mean
    assert result.baselines == pytest.approx(expected)


def test_searches_are_repeatable_and_learning_beats_random_on_a_graded_table():
    reward = TABLE.reward()
    for search in (random_search, reinforce_search, regularized_evolution):
        assert search(SPACE, reward, 30, seed=5).archs == search(SPACE, reward, 30,
                                                                  seed=5).archs
    curves = run_searches(TABLE, 100, range(24))
    final = {m: c[:, -1].mean() for m, c in curves.items()}
    assert final["regularised evolution"] > final["random search"]
    assert final["REINFORCE"] > final["random search"]
    for c in curves.values():
        assert (np.diff(c, axis=1) >= 0).all() and c.max() <= TABLE.optimum()
    mean, half = mean_and_band(curves["random search"])
    assert mean.shape == half.shape == (100,) and (half >= 0).all()


def test_incumbents_report_the_pick_of_the_reward_at_any_budget():
    result = run_search("random search", TABLE, 40, seed=2, reward_budget="short")
    # at the reward's own budget the incumbent curve is the best reward so far
    assert incumbents(result, TABLE, "short") == pytest.approx(result.best_so_far)
    # at the long budget: the long accuracy of the cell with the best short reward so far
    long = incumbents(result, TABLE, "long")
    for k in range(40):
        rewards = result.rewards[:k + 1]
        pick = result.archs[int(np.argmax(rewards))]       # the first of any ties
        assert long[k] == TABLE.val["long"][SPACE.index(pick)]
    test = incumbents(result, TABLE, "long", split="test")
    assert test[-1] == TABLE.test["long"][SPACE.index(result.best[0])]
    curves = run_searches(TABLE, 40, [2], reward_budget="short", report_budget="long",
                          methods=["random search"])
    assert list(curves) == ["random search"] and curves["random search"][0] == pytest.approx(long)


def test_distinct_cells_and_training_cost_count_each_cell_once():
    seconds = {"short": np.linspace(1.0, 2.0, SPACE.size), "long": np.full(SPACE.size, 3.0)}
    table = BenchTable(SPACE, TABLE.val, TABLE.test, TABLE.params, TABLE.macs, seconds)
    result = run_search("REINFORCE", table, 60, seed=0)
    distinct = distinct_cells(result)
    assert distinct[0] == 1 and distinct[-1] == len(set(result.archs))
    assert (np.diff(distinct) >= 0).all() and (np.diff(distinct) <= 1).all()
    assert training_cost(result, table, "long") == pytest.approx(3.0 * distinct)
    short = training_cost(result, table, "short")
    assert short[-1] == pytest.approx(sum(seconds["short"][SPACE.index(a)]
                                          for a in set(result.archs)))
    runs = search_runs(table, 30, range(3), methods=["regularised evolution"])
    assert list(runs) == ["regularised evolution"] and len(runs["regularised evolution"]) == 3


def test_random_expectation_is_the_exact_mean_of_random_search():
    values = np.array([0.1, 0.5, 0.5, 0.9])
    # one draw: the mean; two draws: every ordered pair equally likely
    exact_two = np.mean([max(a, b) for a in values for b in values])
    assert random_expectation(values, 2) == pytest.approx([values.mean(), exact_two])
    curve = random_expectation(TABLE.val["long"], 50)
    assert (np.diff(curve) >= 0).all() and curve[-1] <= TABLE.optimum()
    simulated = run_searches(TABLE, 50, range(100), methods=["random search"])
    mean, half = mean_and_band(simulated["random search"])
    assert (np.abs(mean - curve) <= 2 * half + 1e-9).mean() > 0.9


def test_cell_diagram_draws_what_the_cell_holds():
    skip, conv, none = (OPS.index(o) for o in ("skip", "conv3x3", "none"))
    arch = (skip, none, conv, skip, conv, conv)
    d = cell_diagram(arch)
    labels = d.labels()
    assert labels.count("ReLU, 3×3 conv, BN") == 3 and labels.count("skip (identity)") == 2
    assert labels.count("none") == 1 and {"0", "1", "2", "3"} <= set(labels)
    assert "0 to 2" in d.alt and cell_label(arch) in d.alt
    # no label overlaps another
    rects = [t.rect for t in d.texts]
    assert not any(a.intersects(b) for k, a in enumerate(rects) for b in rects[k + 1:])
    dead = cell_diagram((conv, conv, conv, none, none, none))
    assert "outputs zeros" in dead.alt and "not on a path from input to output" in dead.alt
    assert 'stroke-dasharray' in dead.svg
    net = cell_network_diagram(arch)
    assert net.labels().count("the searched cell") == 3 and "10 outputs" in net.alt


def test_spearman_handles_ties_and_order():
    a = np.array([1.0, 2.0, 2.0, 4.0])
    assert nas_bench.spearman(a, a) == pytest.approx(1.0)
    assert nas_bench.spearman(a, -a) == pytest.approx(-1.0)
    assert nas_bench.spearman(np.arange(5.0), np.arange(5.0) ** 3) == pytest.approx(1.0)


# ------------------------------------------------------------------ the stored table
def _complete() -> bool:
    path = results_root() / "nas_bench" / "manifest.json"
    if not path.exists():
        return False
    done = json.loads(path.read_text()).get("arms", {}).get("0", {})
    return set(registry.get_experiment("nas_bench").arm_names()) <= set(done)


stored = pytest.mark.skipif(not _complete(), reason="nas_bench not run yet "
                                                    "(cnncourse lab run nas_bench)")


@stored
def test_the_stored_table_is_complete_and_its_claims_hold():
    results = lab.load("nas_bench")
    for text, verdict in results.verdicts():
        assert verdict.holds, f"{text}: {verdict.detail}"
    table = BenchTable.from_lab(results)
    assert len(table.val["long"]) == 729
    for budget in ("short", "long"):
        assert ((table.val[budget] >= 0) & (table.val[budget] <= 1)).all()
        assert (table.cpu_seconds[budget] > 0).all()
    assert (table.params > 0).all() and (table.macs > 0).all()
    # cells that compute the same network share its row
    t = nas_bench.table(results)
    same = t["network"] == t["network"][0]
    assert same.sum() > 1 and len(set(t["long_val"][same])) == 1
    # the long budget costs more than the short one, network by network
    assert (table.cpu_seconds["long"] > table.cpu_seconds["short"]).all()
