"""Nothing graded twice, nothing lost: what decided each stored grade.

A grade depends on the submission's files, the assignment's source, the grading code and
its settings, nothing else. :func:`grade_key` hashes exactly those; the ledger
(``reports/<assignment>/graded.json``) keeps, per student, the key their stored grade was
computed under and the reason shown beside it. ``cnncourse grade`` skips a student whose
key is unchanged, and writes the ledger as each result is recorded, so a run that was
stopped (Ctrl-C, a dead worker, a dead machine) resumes where it stopped.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cnncourse
from cnncourse.grading.course import Course

LEDGER = "graded.json"
_SKIPPED = (".ipynb_checkpoints", "__pycache__")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not any(part in _SKIPPED for part in p.relative_to(folder).parts))


def folder_digest(folder: Path) -> str:
    """sha256 over every file of ``folder`` (relative path and bytes)."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for path in _files(folder):
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def grader_fingerprint() -> str:
    """The grading code itself: every Python file of the installed ``cnncourse`` package,
    and the versions of what judges with it (a changed checker re-grades)."""
    import nbgrader
    import torch

    package = Path(cnncourse.__file__).resolve().parent
    digest = hashlib.sha256(f"{cnncourse.__version__} torch {torch.__version__} nbgrader "
                            f"{nbgrader.__version__}".encode())
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def assignment_digest(course: Course, assignment: str) -> str:
    """The assignment's source folder and the course's nbgrader settings."""
    digest = hashlib.sha256(folder_digest(course.source_dir / assignment).encode())
    if course.config_file.is_file():
        digest.update(course.config_file.read_bytes())
    return digest.hexdigest()


@dataclass(frozen=True)
class Settings:
    """What else decides a grade: the time limit, the sandbox, the hidden cases' secret."""

    cell_timeout: int
    sandboxed: bool
    secret: str

    def digest(self) -> str:
        secret = hashlib.sha256(self.secret.encode()).hexdigest()
        return f"{self.cell_timeout}:{self.sandboxed}:{secret}"


def grade_key(course: Course, assignment: str, student: str, settings: Settings,
              assignment_hash: str | None = None) -> str:
    parts = [folder_digest(course.submitted_dir / student / assignment),
             assignment_hash or assignment_digest(course, assignment),
             grader_fingerprint(), settings.digest()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


class Ledger:
    """``reports/<assignment>/graded.json``: student -> the key and reason of their grade."""

    def __init__(self, course: Course, assignment: str) -> None:
        self.path = course.reports_dir / assignment / LEDGER
        self.entries: dict[str, dict] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                self.entries = {s: e for s, e in data.get("students", {}).items()
                                if isinstance(e, dict)}
            except (OSError, ValueError):  # a damaged ledger: grade everything again
                self.entries = {}

    def is_current(self, student: str, key: str) -> bool:
        return self.entries.get(student, {}).get("key") == key

    def reason(self, student: str) -> str:
        return str(self.entries.get(student, {}).get("reason", ""))

    def record(self, student: str, key: str, reason: str) -> None:
        """Remember one result, and write the ledger at once (atomically)."""
        self.entries[student] = {"key": key, "reason": reason}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".json.part")
        partial.write_text(json.dumps({"students": self.entries}, indent=1, sort_keys=True),
                           encoding="utf-8")
        os.replace(partial, self.path)

    def forget(self) -> None:
        self.entries = {}
