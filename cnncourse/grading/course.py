"""The nbgrader course folder: where it is, which assignments it holds, its settings.

A course folder holds ``nbgrader_config.py`` and ``source/<assignment>/<assignment>.ipynb``;
nbgrader writes ``release/``, ``submitted/``, ``autograded/``, ``feedback/`` and
``gradebook.db`` next to them, and ``cnncourse`` adds ``solutions/`` and ``reports/``.
Everything here is cheap (no nbgrader import), so wrong use is reported at once.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import cnncourse

DEFAULT_COURSE = Path("exercises")
# nbgrader's own default for ExecutePreprocessor.timeout, used when the config sets none
NBGRADER_DEFAULT_CELL_TIMEOUT = 30
_SKIP = (".", "_")  # hidden folders, .ipynb_checkpoints, __pycache__


class UsageError(Exception):
    """The command was used wrongly: the message is one line saying what to do instead."""


class GradingError(Exception):
    """nbgrader or a notebook failed in a way that stops the command (not a student's fault)."""


def display(path: Path) -> str:
    """``path`` relative to the current directory when it is below it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def repository_course() -> Path:
    """The ``exercises/`` folder next to the package (an editable install of the repository)."""
    return Path(cnncourse.__file__).resolve().parent.parent / "exercises"


@dataclass(frozen=True)
class Settings:
    """What ``cnncourse`` needs from ``nbgrader_config.py``."""

    course_id: str
    cell_timeout: int


@dataclass(frozen=True)
class Course:
    """An nbgrader course folder (paths follow nbgrader's defaults)."""

    root: Path

    @property
    def source_dir(self) -> Path:
        return self.root / "source"

    @property
    def release_dir(self) -> Path:
        return self.root / "release"

    @property
    def submitted_dir(self) -> Path:
        return self.root / "submitted"

    @property
    def autograded_dir(self) -> Path:
        return self.root / "autograded"

    @property
    def feedback_dir(self) -> Path:
        return self.root / "feedback"

    @property
    def solutions_dir(self) -> Path:
        return self.root / "solutions"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"

    @property
    def mutants_dir(self) -> Path:
        return self.root / "mutants"

    @property
    def config_file(self) -> Path:
        return self.root / "nbgrader_config.py"

    @property
    def gradebook_path(self) -> Path:
        return self.root / "gradebook.db"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.gradebook_path.resolve()}"

    def assignments(self) -> list[str]:
        """Names of the folders in ``source/`` that hold at least one notebook."""
        if not self.source_dir.is_dir():
            return []
        return sorted(
            d.name for d in self.source_dir.iterdir()
            if d.is_dir() and not d.name.startswith(_SKIP) and any(d.glob("*.ipynb"))
        )

    def source_notebooks(self, assignment: str) -> list[Path]:
        """The assignment's notebooks in ``source/`` (normally one, named like it)."""
        return sorted(self.source_dir.joinpath(assignment).glob("*.ipynb"))

    def notebook_names(self, assignment: str) -> list[str]:
        return [p.stem for p in self.source_notebooks(assignment)]

    def released(self, assignment: str) -> bool:
        """Whether ``nbgrader generate_assignment`` registered it in the gradebook."""
        if not self.gradebook_path.is_file():
            return False
        try:
            with sqlite3.connect(self.gradebook_path) as db:
                row = db.execute("SELECT 1 FROM assignment WHERE name = ?", (assignment,))
                return row.fetchone() is not None
        except sqlite3.Error:
            return False

    def submissions(self, assignment: str) -> list[str]:
        """Students with a folder ``submitted/<student>/<assignment>/``, sorted."""
        if not self.submitted_dir.is_dir():
            return []
        return sorted(
            d.name for d in self.submitted_dir.iterdir()
            if d.is_dir() and not d.name.startswith(_SKIP) and (d / assignment).is_dir()
        )

    @cached_property
    def settings(self) -> Settings:
        """course id and per-cell timeout from ``nbgrader_config.py`` (nbgrader's defaults)."""
        from traitlets.config.loader import PyFileConfigLoader

        if not self.config_file.is_file():
            return Settings(course_id="", cell_timeout=NBGRADER_DEFAULT_CELL_TIMEOUT)
        config = PyFileConfigLoader(self.config_file.name, path=str(self.root)).load_config()
        course_id = config.CourseDirectory.get("course_id", "")
        timeout = config.Execute.get("timeout", NBGRADER_DEFAULT_CELL_TIMEOUT)
        return Settings(course_id=str(course_id), cell_timeout=int(timeout))


def find_course(course_arg: str | None) -> Course:
    """The course folder named by ``--course``, else ``./exercises``, else the repository's."""
    if course_arg is not None:
        root = Path(course_arg)
        if not root.is_dir():
            raise UsageError(
                f"no course folder at {course_arg}: --course must name the folder that holds "
                "nbgrader_config.py and source/<assignment>/"
            )
    elif DEFAULT_COURSE.is_dir():
        root = DEFAULT_COURSE
    elif repository_course().is_dir():
        root = repository_course()
    else:
        raise UsageError(
            f"no course folder: looked for ./exercises in {Path.cwd()} and for "
            f"{repository_course()}; run from the repository root or pass --course DIR"
        )
    course = Course(root.resolve())
    if not course.source_dir.is_dir():
        raise UsageError(
            f"{display(course.root)} is not a course folder: it has no source/ "
            "(expected source/<assignment>/<assignment>.ipynb); pass --course DIR"
        )
    return course


def resolve_assignments(course: Course, names: list[str] | None, verb: str) -> list[str]:
    """The assignments to work on: ``names`` checked against ``source/``, or all of them."""
    available = course.assignments()
    if not available:
        raise UsageError(
            f"{display(course.source_dir)} has no assignments "
            "(expected source/<assignment>/<assignment>.ipynb)"
        )
    if not names:
        return available
    for name in names:
        if name not in available:
            raise UsageError(
                f"no assignment '{name}' in {display(course.source_dir)}. "
                f"Available: {', '.join(available)}. Try: cnncourse {verb} {available[0]}"
            )
    return list(dict.fromkeys(names))  # keep order, drop repeats
