"""The results store: ``results/<experiment>/`` with a manifest, read back and verified.

Layout of one experiment's folder::

    manifest.json          config and its hash, versions, device, threads, wall times,
                           the sha256 of every other file
    seed_0/plain20.json    one arm of one seed: history, final metrics, extra, first steps
    seed_0/plain20.pt      its weights, only where a chapter needs the trained model

``Results.load`` verifies everything it reads (every file's sha256, the config hash against
the experiment's current config, the manifests of what it depends on, all seeds present)
and raises ``LabError`` with one line naming the command to run otherwise. The chapters
read results only through it, so the book build stops on stale data instead of plotting it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from cnncourse.lab.spec import Experiment, LabError, Verdict, config_hash

RESULTS_ENV_VAR = "CNNCOURSE_RESULTS"
MANIFEST = "manifest.json"


def results_root() -> Path:
    """``$CNNCOURSE_RESULTS``, else ``results/`` of the repository holding this package."""
    configured = os.environ.get(RESULTS_ENV_VAR)
    if configured:
        return Path(configured).expanduser()
    return Path(__file__).resolve().parents[2] / "results"


def folder_name(experiment: Experiment, default_data: str) -> str:
    """``degradation`` on the experiment's own data set, ``degradation@cifar10`` on another."""
    data = experiment.config.data
    return experiment.name if data == default_data else f"{experiment.name}@{data}"


def run_command(experiment: Experiment, default_data: str, seeds: list[int] | None = None,
                verb: str = "run") -> str:
    """The command line that (re)makes these results."""
    words = ["cnncourse", "lab", verb, experiment.name]
    if experiment.config.data != default_data:
        words += ["--data", experiment.config.data]
    if seeds:
        words += ["--seeds", *map(str, seeds)]
    return " ".join(words)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def arm_files(seed: int, arm: str) -> tuple[str, str]:
    """Relative paths of an arm's record and weights."""
    return f"seed_{seed}/{arm}.json", f"seed_{seed}/{arm}.pt"


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest as a dict, ``None`` if absent; ``LabError`` if it is not JSON."""
    path = folder / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise LabError(f"{path} is damaged (not JSON)") from None


def dependency_hashes(experiment: Experiment, root: Path) -> dict[str, str | None]:
    """sha256 of each dependency's manifest as it is now (``None`` if it has none)."""
    hashes = {}
    for name in experiment.depends_on:
        path = root / name / MANIFEST
        hashes[name] = sha256_file(path) if path.exists() else None
    return hashes


def _display(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


# decided verdicts by (experiment, folder, manifest): the manifest names the sha256 of every
# file, which ``Results.load`` verified, so the same key means the same numbers
_DECIDED: dict[tuple[int, str], tuple[Experiment, list[tuple[str, Verdict]]]] = {}


class Results:
    """One experiment's verified results. Arms are read into memory (they are small JSON);
    weights are read on demand with ``weights(seed, arm)``."""

    def __init__(self, experiment: Experiment, folder: Path, manifest: dict[str, Any],
                 arms: dict[int, dict[str, dict[str, Any]]]) -> None:
        self.experiment = experiment
        self.config = experiment.config
        self.folder = folder
        self.manifest = manifest
        self._arms = arms
        self._files_key: str | None = None  # set by ``load``: these are verified files

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, experiment: Experiment, default_data: str,
             root: Path | None = None) -> Results:
        """Read and verify; ``LabError`` (one line, naming what to run) if anything is off."""
        root = results_root() if root is None else root
        folder = root / folder_name(experiment, default_data)
        run = run_command(experiment, default_data)
        where = _display(folder)
        manifest = read_manifest(folder)
        if manifest is None:
            raise LabError(f"no results for {experiment.name} in {where}; run: {run}")
        if manifest.get("config_hash") != config_hash(experiment.config):
            raise LabError(f"{where} is stale: the config of {experiment.name} changed since "
                           f"the run; run: {run}")
        for name, digest in dependency_hashes(experiment, root).items():
            if manifest.get("depends_on", {}).get(name) != digest:
                raise LabError(f"{where} is stale: {name}, which it reads, was re-run since; "
                               f"run: {run}")
        for relative, digest in manifest.get("files", {}).items():
            path = folder / relative
            seed = int(relative.split("/")[0].removeprefix("seed_"))
            again = run_command(experiment, default_data, [seed])
            if not path.exists():
                raise LabError(f"{_display(path)} is missing; run: {again}")
            if sha256_file(path) != digest:
                raise LabError(f"{_display(path)} was edited after the run (its sha256 is not "
                               f"the manifest's); run: {again}")
        done = manifest.get("arms", {})
        missing = [s for s in experiment.config.seeds
                   if set(experiment.arm_names()) - set(done.get(str(s), {}))]
        if missing:
            raise LabError(f"{where} is incomplete: seed{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(map(str, missing))} not finished; run: {run}")
        arms: dict[int, dict[str, dict[str, Any]]] = {}
        for seed_text, entries in sorted(done.items(), key=lambda kv: int(kv[0])):
            arms[int(seed_text)] = {
                arm: json.loads((folder / entry["file"]).read_text())
                for arm, entry in entries.items()}
        results = cls(experiment, folder, manifest, arms)
        results._files_key = f"{folder}\n{json.dumps(manifest, sort_keys=True)}"
        return results

    def strays(self) -> list[str]:
        """Files in the results folder that the manifest does not list (a run stopped
        between writing an arm and its manifest leaves one). Loading never reads them; the
        runner's lock and half-written ``.part`` files are not counted."""
        listed = set(self.manifest.get("files", {})) | {"manifest.json"}
        return sorted(path.relative_to(self.folder).as_posix()
                      for path in self.folder.rglob("*")
                      if path.is_file() and path.name != ".lock" and path.suffix != ".part"
                      and path.relative_to(self.folder).as_posix() not in listed)

    # ------------------------------------------------------------------ access
    @property
    def seeds(self) -> list[int]:
        """Every stored seed (the config's, and any extra ones run): all are shown."""
        return sorted(self._arms)

    @property
    def arms(self) -> list[str]:
        return self.experiment.arm_names()

    def arm(self, seed: int, arm: str) -> dict[str, Any]:
        """The stored record of one arm of one seed: history, final, extra, first_steps."""
        return self._arms[seed][arm]

    def history(self, arm: str, metric: str) -> np.ndarray:
        """``(seeds, periods)`` array of one metric's history."""
        return np.array([self._arms[s][arm]["history"][metric] for s in self.seeds])

    def final(self, arm: str, metric: str) -> np.ndarray:
        """``(seeds,)`` array of one final metric."""
        return np.array([self._arms[s][arm]["final"][metric] for s in self.seeds], dtype=float)

    def extra(self, arm: str, key: str) -> list[Any]:
        """One ``extra`` entry of every seed."""
        return [self._arms[s][arm]["extra"][key] for s in self.seeds]

    def weights(self, seed: int, arm: str) -> dict[str, Any]:
        """The stored ``state_dict`` (read with ``weights_only=True``: tensors only)."""
        import torch

        entry = self.manifest["arms"][str(seed)][arm]
        if not entry.get("weights"):
            raise LabError(f"{self.experiment.name} stores no weights for {arm}")
        return torch.load(self.folder / entry["weights"], map_location="cpu",
                          weights_only=True)

    def cpu_seconds(self) -> dict[int, float] | None:
        """Per seed: the CPU time its arms took, where every arm recorded it (runs stored
        before the lab recorded CPU time have only their wall time)."""
        entries = [e for arms in self.manifest["arms"].values() for e in arms.values()]
        if not all("cpu_seconds" in e for e in entries):
            return None
        return {int(s): sum(e["cpu_seconds"] for e in arms.values())
                for s, arms in self.manifest["arms"].items()}

    def wall_seconds(self) -> dict[int, float]:
        """Per seed: the sum of its arms' measured training times."""
        return {int(s): sum(e["wall_seconds"] for e in entries.values())
                for s, entries in self.manifest["arms"].items()}

    def verdicts(self) -> list[tuple[str, Verdict]]:
        """Every claim of the experiment, decided on these results (once per process: a
        claim may take seconds, ch08's runs the stored networks, and ``lab check``, the
        tests and a chapter ask for the same verdicts of the same verified files). Results
        made in memory (not loaded) are decided every time."""
        key = (id(self.experiment), self._files_key) if self._files_key else None
        if key in _DECIDED and _DECIDED[key][0] is self.experiment:
            return list(_DECIDED[key][1])
        out = []
        for claim in self.experiment.claims:
            try:
                verdict = claim.test(self)
            except (KeyError, IndexError, TypeError, ValueError) as error:
                verdict = Verdict(False, f"could not be evaluated: {error!r}")
            if claim.known_failure:
                verdict = dataclasses.replace(verdict, explained=claim.known_failure)
            out.append((claim.text, verdict))
        if key:
            _DECIDED[key] = (self.experiment, out)  # the experiment held: its id stays its own
        return list(out)
