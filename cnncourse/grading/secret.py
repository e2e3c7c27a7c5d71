"""The course's secret: where the hidden cases are drawn from.

Nothing a student can install or read holds the hidden cases: each checker defines the
distribution they come from, and the grader draws them from this secret and the grade id
(``judge.draw_seed``). The secret is a random key in the instructor's course folder,
``hidden_cases.key``, ignored by git, made by ``cnncourse release`` (or the first ``grade``)
when missing. Keeping it keeps the hidden cases of every re-grade the same; replacing it
draws new ones for everybody. ``cnncourse verify`` draws from a fresh key each time, so it
proves every known-wrong answer loses under any draw, not just this course's.
"""

from __future__ import annotations

import secrets
from pathlib import Path

FILE_NAME = "hidden_cases.key"


def secret_path(course_root: Path) -> Path:
    return course_root / FILE_NAME


def course_secret(course_root: Path, create: bool = True) -> str:
    """The course's secret, made (readable by its owner only) when missing and ``create``."""
    path = secret_path(course_root)
    if path.is_file():
        text = path.read_text(encoding="utf-8").strip()
        if text:
            return text
    if not create:
        raise FileNotFoundError(path)
    key = secrets.token_hex(32)
    path.write_text(key + "\n", encoding="utf-8")
    path.chmod(0o600)
    return key


def fresh_secret() -> str:
    return secrets.token_hex(32)
