"""The scaling experiment (chapter 11): its nets meet their budgets, a small run of both
experiments goes through the runner, each claim can hold and can fail on made-up results,
and, once stored, the claims are as ``cnncourse lab check`` reports them."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from cnncourse.lab import registry
from cnncourse.lab.experiments import scaling
from cnncourse.lab.loop import Schedule
from cnncourse.lab.results import Results, results_root
from cnncourse.lab.runner import run_experiment
from cnncourse.lab.scaled_nets import (
    ScaledNet,
    Scaling,
    scaled_blocks,
    scaled_channels,
    scaled_macs,
)


# ------------------------------------------------------------------ the nets
def test_scaled_net_resizes_and_counts_what_it_computes():
    import torch

    net = ScaledNet(Scaling(resolution=8), in_channels=1)
    assert net(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    small, large = scaled_macs(Scaling(resolution=8), in_channels=1), \
        scaled_macs(Scaling(resolution=16), in_channels=1)
    assert 3.0 < large / small < 5.0   # about the square of the resolution's growth
    assert scaled_channels(16, 1.1) == 16 and scaled_channels(64, 1.1) == 72
    assert scaled_blocks(1, 1.2) == 1 and scaled_blocks(2, 1.3) == 3


def test_every_arm_is_near_its_budget_and_grows_one_dimension():
    config = scaling.CONFIG
    base = scaling._macs(Scaling(resolution=config.base_resolution), 1)
    for arm in scaling.arms(config):
        s = scaling.scaling_of(config, arm, 1, 28)
        if arm == "base":
            assert s == Scaling(resolution=config.base_resolution)
            continue
        strategy, budget = arm.split("_x")
        assert abs(scaling._macs(s, 1) / (int(budget) * base) - 1) < 0.15, arm
        grown = {"depth": s.depth != 1, "width": s.width != 1,
                 "resolution": s.resolution != config.base_resolution}
        if strategy != "compound":
            assert [k for k, v in grown.items() if v] == [strategy], (arm, s)
        else:
            assert all(grown.values()), (arm, s)


def test_the_grid_compares_distinct_nets_at_twice_the_cost():
    config = scaling.GRID_CONFIG
    assert scaling.PAPER_TRIPLE in config.triples
    base = scaling._macs(Scaling(resolution=config.base_resolution), 1)
    nets = set()
    for triple in config.triples:
        alpha, beta, gamma = triple
        assert 1.85 <= alpha * beta**2 * gamma**2 <= 2.05
        s = scaling.nearest_budget(scaling.candidates("compound", 8, 28, triple), 2 * base,
                                   lambda s: scaling._macs(s, 1))
        assert abs(scaling._macs(s, 1) / (2 * base) - 1) < 0.15
        net = ScaledNet(s, in_channels=1)
        nets.add((len(net.blocks), net.classifier.in_features, s.resolution))
    assert len(nets) == len(config.triples)


def test_nearest_budget_picks_the_nearer_neighbour():
    options = [Scaling(resolution=r) for r in range(1, 10)]
    area = {s: s.resolution**2 for s in options}
    assert scaling.nearest_budget(options, 17, area.get).resolution == 4
    assert scaling.nearest_budget(options, 24, area.get).resolution == 5
    assert scaling.nearest_budget(options, 0.5, area.get).resolution == 1
    assert scaling.nearest_budget(options, 1000, area.get).resolution == 9


# ------------------------------------------------------------------ a small run
def test_a_small_run_of_the_grid_and_the_curves(tmp_path, monkeypatch):
    tiny = Schedule(epochs=1, lr=0.05, batch_size=32, momentum=0.9, augment=True)
    grid = scaling.GRID.with_config(seeds=(0,), triples=scaling.GRID_CONFIG.triples[:2],
                                    n_train=64, val=(6_000, 6_064), schedule=tiny)
    curves = scaling.EXPERIMENT.with_config(seeds=(0,), budgets=(2,), n_train=64, n_test=64,
                                            schedule=tiny)
    registered = registry.experiments()
    monkeypatch.setattr(registry, "experiments",
                        lambda: {**registered, grid.name: grid, curves.name: curves})
    run_experiment(grid, "mnist", root=tmp_path, log=lambda line: None)
    run_experiment(curves, "mnist", root=tmp_path, log=lambda line: None)
    stored = Results.load(curves, "mnist", tmp_path)
    assert stored.arms == ["base", "width_x2", "depth_x2", "resolution_x2", "compound_x2"]
    chosen = scaling.chosen_triple(Results.load(grid, "mnist", tmp_path))
    assert stored.extra("compound_x2", "triple")[0] == list(chosen)
    for arm in stored.arms:
        record = stored.arm(0, arm)
        assert len(record["history"]["test_error"]) == 1 and record["first_steps"]
    assert stored.final("resolution_x2", "resolution")[0] > 8
    assert len(stored.verdicts()) == len(scaling.CLAIMS)


# ------------------------------------------------------------------ the claims, made up
def _made_up(errors: dict[str, list[float]], macs: dict[str, float] | None = None) -> Results:
    """Results of the full config from per-arm held-out errors (one per seed)."""
    base_macs = 1000.0
    arms: dict[int, dict[str, dict]] = {}
    for arm, values in errors.items():
        budget = 1 if arm == "base" else int(arm.split("_x")[1])
        for seed, value in enumerate(values):
            final = {"test_error": value, "macs": (macs or {}).get(arm, budget * base_macs)}
            arms.setdefault(seed, {})[arm] = {"final": final, "history": {},
                                              "extra": {"base_macs": base_macs}}
    return Results(scaling.EXPERIMENT, Path("."), {}, arms)


def _table(**overrides: float) -> dict[str, list[float]]:
    """An outcome like the paper's: every dimension saturates, compound ends lowest."""
    means = {"base": 0.10}
    for strategy, errs in {"width": (0.06, 0.045, 0.04), "depth": (0.065, 0.05, 0.045),
                           "resolution": (0.05, 0.035, 0.03),
                           "compound": (0.05, 0.03, 0.02)}.items():
        for budget, e in zip((2, 4, 8), errs, strict=True):
            means[scaling.arm_name(strategy, budget)] = e
    means.update(overrides)
    return {arm: [m - 0.002, m, m + 0.002] for arm, m in means.items()}


def _verdict(results: Results, test) -> bool:
    return test(results).holds


def test_claims_hold_on_a_papers_outcome():
    results = _made_up(_table())
    for text, verdict in results.verdicts():
        assert verdict.holds, (text, verdict.detail)


def test_compound_claim_fails_when_one_dimension_wins():
    results = _made_up(_table(resolution_x8=0.015))
    assert not _verdict(results, scaling._compound_best_at_top)
    assert _verdict(_made_up(_table()), scaling._compound_best_at_top)


def test_saturation_claim_fails_when_a_dimension_accelerates():
    # depth: base 10 % -> 2x 9.5 % (0.5 points), 4x 8 % -> 8x 5 % (3 points)
    results = _made_up(_table(depth_x2=0.095, depth_x4=0.08, depth_x8=0.05))
    assert not _verdict(results, scaling._single_dimensions_saturate)


def test_every_strategy_helps_fails_on_one_seed_above_the_base():
    table = _table()
    table["width_x8"] = [0.03, 0.04, 0.11]   # one seed worse than every base seed
    assert not _verdict(_made_up(table), scaling._every_strategy_helps)


def test_budget_claim_fails_on_a_net_far_from_its_budget():
    results = _made_up(_table(), macs={"depth_x4": 5_000.0})
    assert not _verdict(results, scaling._budgets_matched)
    assert _verdict(_made_up(_table(), macs={"depth_x4": 4_400.0}), scaling._budgets_matched)


def test_grid_picks_the_lowest_mean_validation_error():
    config = scaling.GRID_CONFIG
    arms: dict[int, dict[str, dict]] = {0: {}, 1: {}}
    for i, triple in enumerate(config.triples):
        for seed in (0, 1):
            error = 0.05 - 0.01 * (i == 3) + 0.001 * seed
            arms[seed][scaling.triple_arm(triple)] = {
                "final": {"test_error": error, "macs": 2100.0 if i != 5 else 2600.0},
                "history": {}, "extra": {"base_macs": 1000.0}}
    results = Results(scaling.GRID, Path("."), {}, arms)
    assert scaling.chosen_triple(results) == config.triples[3]
    assert _verdict(results, scaling._grid_learns)
    assert not _verdict(results, scaling._grid_near_double)   # the last costs 2.6x


# ------------------------------------------------------------------ the stored results
def _complete(name: str) -> bool:
    path = results_root() / name / "manifest.json"
    if not path.exists():
        return False
    done = json.loads(path.read_text()).get("arms", {})
    experiment = registry.get_experiment(name)
    return all(set(experiment.arm_names()) <= set(done.get(str(s), {}))
               for s in experiment.config.seeds)


@pytest.mark.parametrize("name", ["scaling_grid", "scaling"])
def test_stored_claims_are_decided_as_check_reports_them(name):
    if not _complete(name):
        pytest.skip(f"{name} is not stored yet (cnncourse lab run {name})")
    from cnncourse import lab

    results = lab.load(name)
    assert len(results.seeds) >= len(results.config.seeds)
    for text, verdict in results.verdicts():
        assert verdict.holds != bool(verdict.explained), (text, verdict.detail)
    if name == "scaling":
        grid = lab.load("scaling_grid")
        assert results.extra("compound_x2", "triple")[0] == list(scaling.chosen_triple(grid))


def test_made_up_results_keep_the_configs_shape():
    fields = {f.name for f in dataclasses.fields(scaling.CONFIG)}
    assert {"seeds", "data", "budgets", "schedule"} <= fields
    assert scaling.CONFIG.budgets == (2, 4, 8) and len(scaling.CONFIG.seeds) == 3
