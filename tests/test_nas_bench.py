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
from cnncourse.nas.evolution import mutate, regularized_evolution
from cnncourse.nas.search import random_search, reinforce_search
from cnncourse.nas.tabular import BenchTable, mean_and_band, run_searches

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
