"""Chapter 13's lab experiment ``families``: every family's member builds from the package's
family modules, stays small, and runs through the lab's loop with the experiment's own run
function on a tiny config; the claims are decided on the stored results."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from cnncourse import lab
from cnncourse.analysis import count_macs, count_parameters
from cnncourse.lab.experiments import families
from cnncourse.lab.family_members import MEMBERS
from cnncourse.lab.loop import RunContext, Schedule
from cnncourse.lab.results import Results, results_root
from cnncourse.lab.runner import deterministic, run_experiment


def test_one_member_per_family_of_the_book():
    assert list(MEMBERS) == ["LeNet", "AlexNet", "VGG", "NiN", "GoogLeNet", "ResNet",
                             "DenseNet", "MobileNetV2", "ShuffleNet", "EfficientNet",
                             "ConvNeXt"]
    assert families.CONFIG.families == tuple(MEMBERS)


@pytest.mark.parametrize("family", list(MEMBERS))
def test_each_member_is_small_and_classifies_16x16_images(family):
    torch.manual_seed(0)
    model = MEMBERS[family].build(10, 3, 16)
    assert 10_000 < count_parameters(model) < 1_000_000
    assert 100_000 < count_macs(model, 16, 3) < 10_000_000
    model.eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 16, 16)).shape == (2, 10)
    assert not any(isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules())


def test_the_warmup_scales_the_first_steps_and_then_leaves_the_rate_alone():
    weight = torch.nn.Parameter(torch.zeros(1))
    optimizer = families.WarmupAdam([weight], lr=0.1, warmup=4)
    moves = []
    for _ in range(6):
        before = weight.item()
        weight.grad = torch.ones(1)
        optimizer.step()
        moves.append(before - weight.item())
        assert optimizer.param_groups[0]["lr"] == 0.1     # the loop's rate, untouched
    # Adam's first steps move by about the rate: a quarter, a half, ... then all of it
    assert moves[0] == pytest.approx(0.025, rel=1e-3)
    assert moves[1] == pytest.approx(0.05, rel=1e-3)
    assert moves[4] == pytest.approx(0.1, rel=1e-3) == pytest.approx(moves[5], rel=1e-3)


SMALL = dataclasses.replace(
    families.CONFIG, seeds=(0,), families=("LeNet", "ResNet", "MobileNetV2"), n_train=256,
    n_test=64, period_steps=2, warmup_steps=2,
    schedule=Schedule(epochs=1, lr=1e-3, batch_size=64, optimizer="adam",
                      milestones=(0.75,), augment=False))


def test_a_small_run_stores_history_error_parameters_and_macs(tmp_path):
    experiment = families.EXPERIMENT.with_config(**{
        f.name: getattr(SMALL, f.name) for f in dataclasses.fields(SMALL)})
    run_experiment(experiment, "clutter10", root=tmp_path, log=lambda line: None)
    results = Results.load(experiment, "clutter10", tmp_path)
    assert results.arms == ["LeNet", "ResNet", "MobileNetV2"]
    for family in results.arms:
        record = results.arm(0, family)
        assert record["history"]["step"] == [2, 4]
        assert len(record["history"]["test_error"]) == 2
        assert record["final"]["test_error"] == record["history"]["test_error"][-1]
        assert record["final"]["params"] == count_parameters(MEMBERS[family].build(10, 3, 16))
        assert record["final"]["macs"] == count_macs(MEMBERS[family].build(10, 3, 16), 16, 3)
        assert len(record["first_steps"]) == 4
    rows = families.table(results)
    assert [r["family"] for r in rows] == results.arms
    assert all(len(r["test_error"]) == 1 and r["macs"] > 0 for r in rows)


def test_the_run_is_deterministic():
    def first_losses() -> list[float]:
        ctx = RunContext(record_steps=3)
        with deterministic(1):
            torch.manual_seed(0)
            families.run_arm(SMALL, "LeNet", 0, ctx)
        return ctx.first_steps

    assert first_losses() == first_losses()


STORED = (results_root() / "families" / "manifest.json").exists()


@pytest.mark.skipif(not STORED, reason="families not run yet (cnncourse lab run families)")
def test_the_claims_on_the_stored_results():
    results = lab.load("families")
    assert results.seeds == [0, 1, 2]
    verdicts = dict(results.verdicts())
    for text, verdict in verdicts.items():   # a claim holds, or fails with its reason
        assert verdict.holds != bool(verdict.explained), f"{text}: {verdict.detail}"
    macs = {row["family"]: row["macs"] for row in families.table(results)}
    assert macs["LeNet"] == min(macs.values())
