"""The course lab: the committed results pass ``check`` and their claims hold; ``check`` and
the loader refuse edited, missing and stale results in one line; the runner stores, resumes
and describes its runs (on tiny experiments, never a whole real one)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

from cnncourse import lab
from cnncourse.lab import cli as lab_cli
from cnncourse.lab import registry
from cnncourse.lab.check import check_experiment, replay, replay_arm
from cnncourse.lab.datasets import load_data
from cnncourse.lab.loop import RunContext, Schedule, train
from cnncourse.lab.results import Results, results_root
from cnncourse.lab.runner import run_experiment
from cnncourse.lab.spec import ArmResult, Claim, Experiment, LabError, Verdict, config_hash

EXPERIMENTS = list(registry.experiments())
# Results are committed experiment by experiment as their runs finish; the tests below check
# every one that is there, and say which are not there yet.
def _complete(name: str) -> bool:
    """A manifest listing every arm of every seed of the config (a run still going, here,
    is not yet something to test)."""
    path = results_root() / name / "manifest.json"
    if not path.exists():
        return False
    done = json.loads(path.read_text()).get("arms", {})
    experiment = registry.get_experiment(name)
    return all(set(experiment.arm_names()) <= set(done.get(str(s), {}))
               for s in experiment.config.seeds)


STORED = [n for n in EXPERIMENTS if _complete(n)]
SMALL = "batchnorm"   # a committed experiment small enough to copy and tamper with


def _one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one line, got:\n{text}"
    assert "Traceback" not in text
    return lines[0]


# ------------------------------------------------------------------ the committed results
def test_every_experiment_has_results():
    missing = [n for n in EXPERIMENTS if n not in STORED]
    if missing:
        pytest.skip(f"not run yet: {', '.join(missing)} (cnncourse lab run NAME)")


def test_check_passes_on_the_committed_results(capsys):
    """Every stored experiment: files and hashes verified, config current, claims hold,
    replay agrees (three steps per arm)."""
    if not STORED:
        pytest.skip("no results stored yet")
    assert lab_cli.main(["check", *STORED]) == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "FAILS" not in out and "DIFFERS" not in out and "STALE" not in out
    for name in STORED:
        assert f"{name} (" in out


@pytest.mark.parametrize("name", STORED)
def test_claims_hold_on_the_stored_results(name):
    results = lab.load(name)
    assert results.seeds, name
    assert len(results.seeds) >= 3 or len(registry.get_experiment(name).config.seeds) < 3
    for text, verdict in results.verdicts():   # or fails with the reason the book prints
        assert verdict.holds != bool(verdict.explained), f"{name}: {text}: {verdict.detail}"


@pytest.mark.parametrize("name", STORED)
def test_manifest_describes_the_run(name):
    results = lab.load(name)
    manifest = results.manifest
    assert manifest["config_hash"] == config_hash(results.config)
    for key in ("config", "package_version", "git_commit", "torch_version", "threads",
                "device", "files", "arms", "seconds_per_seed"):
        assert key in manifest, key
    for seed in results.seeds:
        for arm in results.arms:
            entry = manifest["arms"][str(seed)][arm]
            assert entry["wall_seconds"] > 0 and entry["threads"] >= 1
            assert entry["file"] in manifest["files"]


def test_results_fit_the_budget():
    total = sum(p.stat().st_size for p in results_root().rglob("*") if p.is_file())
    assert total < 30e6, f"results/ holds {total / 1e6:.1f} MB"


def test_make_lab_splits_the_experiments_into_two_processes_that_need_nothing_of_each_other():
    """``make lab`` runs LAB_HALF in one process and everything else in the other: each
    experiment runs once, and one that reads another runs after it, in the same process."""
    makefile = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    half = re.search(r"^LAB_HALF := (.+)$", makefile, flags=re.MULTILINE).group(1).split()
    ordered = list(registry.experiments())
    assert set(half) < set(ordered) and len(set(half)) == len(half), half
    rest = [n for n in ordered if n not in half]
    for group in (half, rest):
        for i, name in enumerate(group):
            for dependency in registry.get_experiment(name).depends_on:
                assert dependency in group[:i], f"{name} reads {dependency}"


# ------------------------------------------------------------------ refusing bad results
@pytest.fixture
def copied(tmp_path) -> Path:
    """A copy of one committed experiment's results, safe to damage."""
    if SMALL not in STORED:
        pytest.skip(f"{SMALL} has no results yet")
    shutil.copytree(results_root() / SMALL, tmp_path / SMALL,
                    ignore=shutil.ignore_patterns(".lock"))
    return tmp_path


def _check_one(root: Path, capsys) -> tuple[int, str]:
    code = lab_cli.main(["check", SMALL, "--results", str(root), "--replay-steps", "0"])
    return code, capsys.readouterr().err


def test_an_edited_number_fails_in_one_line(copied, capsys):
    path = sorted((copied / SMALL).rglob("*.json"))[0]
    if path.name == "manifest.json":
        path = sorted((copied / SMALL).glob("seed_*/*.json"))[0]
    record = json.loads(path.read_text())
    record["final"]["train_loss"] += 0.01
    path.write_text(json.dumps(record, indent=1))
    code, err = _check_one(copied, capsys)
    line = _one_line(err)
    assert code == 1 and "edited" in line and "cnncourse lab run batchnorm --seeds" in line
    with pytest.raises(LabError, match="edited"):
        lab.load(SMALL, root=copied)


def test_a_missing_file_fails_in_one_line(copied, capsys):
    victim = sorted((copied / SMALL).glob("seed_*/*.json"))[-1]
    victim.unlink()
    code, err = _check_one(copied, capsys)
    line = _one_line(err)
    assert code == 1 and "missing" in line and "cnncourse lab run batchnorm" in line
    (copied / SMALL / "manifest.json").unlink()
    code, err = _check_one(copied, capsys)
    assert code == 1 and "no results for batchnorm" in _one_line(err)


def test_a_file_the_manifest_does_not_list_is_reported_not_read(copied, capsys):
    """A run stopped between writing an arm and its manifest leaves a stray file: check
    names it and still passes (loading reads only the manifest's files); the lock and
    half-written ``.part`` files are the runner's and are not reported."""
    check = ["check", SMALL, "--results", str(copied), "--replay-steps", "0"]
    assert lab_cli.main(check) == 0
    out = capsys.readouterr().out
    assert "files: 20 verified" in out and "not in the manifest" not in out
    (copied / SMALL / "seed_0" / "bn_lr9.json").write_text("{}")
    (copied / SMALL / "seed_1" / "plain_lr0.05.json.part").write_text("{")
    (copied / SMALL / ".lock").write_text("")
    assert lab.load(SMALL, root=copied).strays() == ["seed_0/bn_lr9.json"]
    assert lab_cli.main(check) == 0
    out = capsys.readouterr().out
    assert "[note] 1 file not in the manifest (a stopped run's; never read): " \
           "seed_0/bn_lr9.json; delete it or resume the run" in out


def test_a_changed_config_without_a_rerun_is_stale(copied, capsys, monkeypatch):
    registered = registry.experiments()
    changed = registered[SMALL].with_config(n_train=registered[SMALL].config.n_train + 1)
    monkeypatch.setattr(registry, "experiments", lambda: {**registered, SMALL: changed})
    code, err = _check_one(copied, capsys)
    line = _one_line(err)
    assert code == 1 and "stale" in line and "run: cnncourse lab run batchnorm" in line
    with pytest.raises(LabError, match="stale"):
        lab.load(SMALL, root=copied)


def test_unknown_experiment_and_wrong_use_are_one_line(capsys):
    assert lab_cli.main(["run", "no_such_thing"]) == 2
    assert "unknown experiment 'no_such_thing'" in _one_line(capsys.readouterr().err)
    assert lab_cli.main(["check", "no_such_thing"]) == 2
    _one_line(capsys.readouterr().err)
    assert lab_cli.main([]) == 2
    _one_line(capsys.readouterr().err)
    assert lab_cli.main(["run", "dropout", "--seeds", "x"]) == 2
    _one_line(capsys.readouterr().err)
    with pytest.raises(LabError, match="unknown experiment"):
        lab.load("no_such_thing")


def test_the_cnncourse_command_hands_lab_to_the_lab(capsys):
    from cnncourse.cli import main

    assert main(["lab", "run", "no_such_thing"]) == 2
    assert "unknown experiment" in capsys.readouterr().err


# ------------------------------------------------------------------ the runner, small
@dataclasses.dataclass(frozen=True)
class TinyConfig:
    data: str = "mnist"
    seeds: tuple[int, ...] = (0, 1)
    n_train: int = 256
    width: int = 4
    schedule: Schedule = dataclasses.field(default_factory=lambda: Schedule(
        epochs=2, lr=0.05, batch_size=64, augment=True))


CALLS: list[tuple[int, str]] = []


def _tiny_run(config: TinyConfig, arm: str, seed: int, ctx: RunContext) -> ArmResult:
    CALLS.append((seed, arm))
    data = load_data(config.data).head(config.n_train, 128)
    width = config.width * (2 if arm == "wide" else 1)
    model = nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4),
                          nn.Flatten(), nn.Linear(width * 49, 10))
    history = train(model, data, config.schedule, ctx, seed)
    return ArmResult(history=history, final={"test_error": history["test_error"][-1]},
                     weights=model.state_dict() if arm == "wide" else None)


def _tiny(**changes) -> Experiment:
    def learns(results) -> Verdict:
        error = results.final("wide", "test_error")
        return Verdict(bool(error.max() < 0.9), f"{error}")

    return Experiment(name="tiny", chapter="test", summary="a tiny experiment",
                      config=dataclasses.replace(TinyConfig(), **changes),
                      arms=lambda config: ["narrow", "wide"], run_arm=_tiny_run,
                      claims=(Claim("the wide net learns something", learns),))


def test_run_stores_every_seed_with_a_complete_manifest(tmp_path):
    CALLS.clear()
    folder = run_experiment(_tiny(), "mnist", root=tmp_path, log=lambda line: None)
    assert CALLS == [(0, "narrow"), (0, "wide"), (1, "narrow"), (1, "wide")]
    results = Results.load(_tiny(), "mnist", tmp_path)
    assert results.seeds == [0, 1]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["config"]["n_train"] == 256 and manifest["config_hash"] == config_hash(
        TinyConfig())
    assert manifest["torch_version"] == torch.__version__ and manifest["device"] == "cpu"
    assert manifest["threads"] == 1 and manifest["package_version"]
    assert set(manifest["seconds_per_seed"]) == {"0", "1"}
    for arms in manifest["arms"].values():        # the CPU time beside the wall time
        for entry in arms.values():
            assert 0 < entry["cpu_seconds"] <= entry["wall_seconds"] * 1.5 + 1
    assert set(results.cpu_seconds()) == {0, 1}
    assert set(manifest["files"]) == {"seed_0/narrow.json", "seed_0/wide.json",
                                      "seed_0/wide.pt", "seed_1/narrow.json",
                                      "seed_1/wide.json", "seed_1/wide.pt"}
    history = results.history("wide", "train_error")
    assert history.shape == (2, 2)                    # seeds x epochs
    for key in ("train_loss", "train_error", "test_loss", "test_error"):
        assert len(results.arm(0, "narrow")["history"][key]) == 2
    assert len(results.arm(0, "wide")["first_steps"]) == 8   # the replayable start
    state = results.weights(1, "wide")
    assert state["0.weight"].shape == (8, 1, 3, 3)
    assert all(v.holds for _, v in results.verdicts())


def test_a_stopped_run_resumes_with_the_arms_it_finished(tmp_path):
    class Stop(Exception):
        pass

    def stop_at_seed_1_wide(config, arm, seed, ctx):
        if (seed, arm) == (1, "wide"):
            raise Stop
        return _tiny_run(config, arm, seed, ctx)

    stopping = dataclasses.replace(_tiny(), run_arm=stop_at_seed_1_wide)
    with pytest.raises(Stop):
        run_experiment(stopping, "mnist", root=tmp_path, log=lambda line: None)
    kept = (tmp_path / "tiny" / "seed_0" / "wide.json").read_bytes()
    with pytest.raises(LabError, match="incomplete"):
        Results.load(_tiny(), "mnist", tmp_path)
    CALLS.clear()
    lines: list[str] = []
    run_experiment(_tiny(), "mnist", root=tmp_path, log=lines.append)
    assert CALLS == [(1, "wide")]                     # only what was missing
    assert sum("stored, skipped" in line for line in lines) == 3
    assert (tmp_path / "tiny" / "seed_0" / "wide.json").read_bytes() == kept
    Results.load(_tiny(), "mnist", tmp_path)


def test_extra_seeds_are_added_and_a_changed_config_starts_again(tmp_path):
    run_experiment(_tiny(), "mnist", root=tmp_path, log=lambda line: None)
    CALLS.clear()
    run_experiment(_tiny(), "mnist", seeds=[2], root=tmp_path, log=lambda line: None)
    assert CALLS == [(2, "narrow"), (2, "wide")]
    assert Results.load(_tiny(), "mnist", tmp_path).seeds == [0, 1, 2]   # every seed shown
    CALLS.clear()
    lines: list[str] = []
    run_experiment(_tiny(width=5), "mnist", root=tmp_path, log=lines.append)
    assert any("stale" in line for line in lines)
    assert CALLS == [(0, "narrow"), (0, "wide"), (1, "narrow"), (1, "wide")]
    assert not (tmp_path / "tiny" / "seed_2").exists()


def test_runs_are_deterministic_and_the_replay_notices_changed_code(tmp_path, capsys):
    run_experiment(_tiny(), "mnist", root=tmp_path, log=lambda line: None)
    again = tmp_path / "again"
    run_experiment(_tiny(), "mnist", root=again, log=lambda line: None)
    first = Results.load(_tiny(), "mnist", tmp_path)
    second = Results.load(_tiny(), "mnist", again)
    a, b = first.arm(1, "wide"), second.arm(1, "wide")
    a["history"].pop("seconds"), b["history"].pop("seconds")   # the clock is not the code's
    assert a == b                                               # every other stored number
    assert check_experiment(_tiny(), "mnist", tmp_path, log=lambda line: None)
    agrees, line = replay(first)
    assert agrees and "largest relative difference 0.0e+00" in line
    ctx = RunContext()   # a replay in a context of one's own (scripts/lab_cost.py)
    losses = replay_arm(_tiny(), "wide", 1, 3, ctx=ctx)
    assert losses == first.arm(1, "wide")["first_steps"][:3] == ctx.first_steps
    model, data = ctx.trained                    # the replayed model, to time an evaluation
    assert model[0].out_channels == 8 and len(data.train_x) == 256

    def changed_code(config, arm, seed, ctx):   # same config, different training
        faster = dataclasses.replace(config, schedule=dataclasses.replace(config.schedule,
                                                                          lr=0.06))
        return _tiny_run(faster, arm, seed, ctx)

    edited = dataclasses.replace(_tiny(), run_arm=changed_code)
    agrees, line = replay(Results.load(edited, "mnist", tmp_path))
    assert not agrees and "differs" in line


def test_a_failed_claim_passes_check_only_with_its_reason_and_only_while_it_fails(tmp_path):
    run_experiment(_tiny(), "mnist", root=tmp_path, log=lambda line: None)

    def fails(results) -> Verdict:
        return Verdict(False, "the wide net is not perfect")

    def with_claims(*claims: Claim) -> Experiment:
        return dataclasses.replace(_tiny(), claims=claims)

    lines: list[str] = []
    unexplained = with_claims(Claim("the wide net is perfect", fails))
    assert not check_experiment(unexplained, "mnist", tmp_path, 0, log=lines.append)
    assert "  [FAILS] the wide net is perfect: the wide net is not perfect" in lines

    lines.clear()
    explained = with_claims(Claim("the wide net is perfect", fails,
                                  known_failure="two epochs are too few"))
    assert check_experiment(explained, "mnist", tmp_path, 0, log=lines.append)
    assert ("  [fails, explained] the wide net is perfect: the wide net is not perfect. "
            "Why: two epochs are too few") in lines
    (_, verdict), = Results.load(explained, "mnist", tmp_path).verdicts()
    assert not verdict.holds and verdict.explained == "two epochs are too few"

    lines.clear()
    holding = _tiny().claims[0]
    stale_note = with_claims(dataclasses.replace(holding, known_failure="it used to fail"))
    assert not check_experiment(stale_note, "mnist", tmp_path, 0, log=lines.append)
    assert any("NOTE STALE" in line and "remove the note" in line for line in lines)


def test_downsampling_is_made_once_per_set_of_images_and_keeps_each_ones_labels():
    from cnncourse.lab import datasets

    data = load_data("mnist")
    first, again = data.downsampled(2), data.downsampled(2)
    assert again.train_x is first.train_x              # shrunk once, not twice
    relabelled = dataclasses.replace(data, train_y=data.train_y.flip(0),
                                     classes=tuple("abcdefghij"))
    other = relabelled.downsampled(2)
    assert other.train_x is first.train_x
    assert torch.equal(other.train_y, relabelled.train_y) and other.classes == relabelled.classes
    fewer = data.head(300, 100).downsampled(2)         # other images: shrunk on their own
    assert fewer.train_x.shape[0] == 300 and not torch.equal(fewer.mean, first.mean)
    datasets._SHRUNK.clear()
    fresh = data.downsampled(2)
    assert fresh.train_x is not first.train_x
    assert torch.equal(fresh.train_x, first.train_x) and torch.equal(fresh.std, first.std)


def test_claims_are_decided_once_per_experiment_and_set_of_files(tmp_path):
    run_experiment(_tiny(), "mnist", root=tmp_path, log=lambda line: None)
    decided: list[str] = []

    def counted(results) -> Verdict:
        decided.append(results.folder.name)
        return Verdict(True, "counted")

    experiment = dataclasses.replace(_tiny(), claims=(Claim("counted", counted),))
    first = Results.load(experiment, "mnist", tmp_path).verdicts()
    again = Results.load(experiment, "mnist", tmp_path).verdicts()   # lab check, then a test
    assert first == again and len(decided) == 1
    other = dataclasses.replace(experiment)                          # another experiment
    Results.load(other, "mnist", tmp_path).verdicts()
    assert len(decided) == 2
    copy = tmp_path / "copy"                                         # other files
    shutil.copytree(tmp_path / "tiny", copy / "tiny")
    Results.load(experiment, "mnist", copy).verdicts()
    assert len(decided) == 3


def test_claims_on_results_made_in_memory_are_decided_every_time(tmp_path):
    run_experiment(_tiny(), "mnist", root=tmp_path, log=lambda line: None)
    stored = Results.load(_tiny(), "mnist", tmp_path)
    made = {"error": 0.5}

    def below_bar(results) -> Verdict:
        return Verdict(made["error"] < 0.9, "")

    experiment = dataclasses.replace(_tiny(), claims=(Claim("under the bar", below_bar),))
    fake = Results(experiment, None, {"arms": {}}, stored._arms)   # as the claims' tests do
    assert fake.verdicts()[0][1].holds
    made["error"] = 0.95
    assert not fake.verdicts()[0][1].holds
