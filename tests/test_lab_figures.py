"""What a chapter shows of a stored experiment: every seed drawn, the mean and range right,
the claims printed with their verdicts (failures too), the provenance from the manifest."""

from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from cnncourse.lab import figures  # noqa: E402
from cnncourse.lab.results import Results  # noqa: E402
from cnncourse.lab.spec import ArmResult, Claim, Experiment, Verdict  # noqa: E402


@dataclasses.dataclass(frozen=True)
class _Config:
    data: str = "mnist"
    seeds: tuple[int, ...] = (0, 1, 2)


ERRORS = {"a": [[0.5, 0.3, 0.2], [0.6, 0.4, 0.1], [0.4, 0.2, 0.3]],
          "b": [[0.9, 0.8, 0.7], [0.9, 0.7, 0.6], [0.8, 0.8, 0.8]]}


def _results() -> Results:
    def a_lower(results) -> Verdict:
        a, b = results.final("a", "test_error"), results.final("b", "test_error")
        return Verdict(bool((a < b).all()), f"a {a.mean():.2f} vs b {b.mean():.2f}")

    def never(results) -> Verdict:
        return Verdict(False, "b never wins")

    experiment = Experiment(
        name="fake", chapter="test", summary="two arms", config=_Config(),
        arms=lambda config: ["a", "b"], run_arm=lambda *args: ArmResult(),
        claims=(Claim("a ends lower than b", a_lower), Claim("b ends lower", never),
                Claim("b ends at zero", never, known_failure="b had too few steps")))
    arms = {seed: {arm: {"history": {"step": [10, 20, 30], "test_error": rows[seed]},
                         "final": {"test_error": rows[seed][-1]}, "extra": {},
                         "first_steps": []}
                   for arm, rows in ERRORS.items()}
            for seed in (0, 1, 2)}
    manifest = {"threads": 1, "device": "cpu", "torch_version": "2.13.0+cpu",
                "git_commit": "0123456789abcdef",
                "arms": {str(s): {arm: {"wall_seconds": 60.0} for arm in ERRORS}
                         for s in (0, 1, 2)}}
    return Results(experiment, None, manifest, arms)


def test_every_seed_is_drawn_with_its_mean_and_range():
    ax = figures.plot_seeds(_results(), "test_error", labels={"a": "arm A"})
    lines = ax.get_lines()
    assert len(lines) == 2 * (3 + 1)                 # three seeds and a mean per arm
    means = [line for line in lines if line.get_label().startswith("arm A")]
    assert len(means) == 1
    np.testing.assert_allclose(means[0].get_ydata(), 100 * np.mean(ERRORS["a"], axis=0))
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(10.0) and band.max() == pytest.approx(60.0)
    assert ax.get_ylabel() == "test error (%)"
    assert "mean of 3 seeds" in ax.get_legend().get_texts()[0].get_text()


def test_the_seed_table_lists_every_seed_then_mean_and_range():
    table = figures.seed_table(_results(), ["test_error"]).splitlines()
    assert table[0] == "| metric | arm | seed 0 | seed 1 | seed 2 | mean | range |"
    assert table[2] == "| test error (%) | a | 20.0 | 10.0 | 30.0 | 20.0 | 20.0 |"
    assert table[3] == "| test error (%) | b | 70.0 | 60.0 | 80.0 | 70.0 | 20.0 |"


def test_claims_are_printed_with_their_verdicts_failures_included():
    text = figures.claims_markdown(_results()).splitlines()
    assert text == ["- **holds**: a ends lower than b. *a 0.20 vs b 0.70*",
                    "- **fails**: b ends lower. *b never wins*",
                    "- **fails**: b ends at zero. *b never wins*. Why it fails: b had too "
                    "few steps."]


def test_provenance_comes_from_the_manifest():
    line = figures.provenance(_results())
    assert "seeds 0, 1, 2" in line and "6 min of training" in line
    assert "commit 0123456" in line and "cnncourse lab check fake" in line
    assert "CPU time" not in line   # these arms recorded only their wall time


def test_provenance_gives_the_cpu_time_where_every_arm_recorded_it():
    results = _results()
    for arms in results.manifest["arms"].values():
        for entry in arms.values():
            entry["cpu_seconds"] = 30.0
    line = figures.provenance(results)
    n_arms = sum(len(arms) for arms in results.manifest["arms"].values())
    assert f"({n_arms * 30 / 60:.0f} min of CPU time)" in line
