"""Grades in the shape a learning platform imports, joined on its roster.

``cnncourse export ASSIGNMENT --format canvas --roster ROSTER.csv`` writes what Canvas's
gradebook import reads: the roster's ``Student``, ``ID``, ``SIS User ID``, ``SIS Login ID``
and ``Section`` columns, a ``Points Possible`` row, and one column for the assignment.
``--format gradescope`` writes ``Name``, ``SID``, ``Email`` and ``Score``, as Gradescope's
score upload reads it. A student of the course is found in the roster by the first of the
roster's identifier columns that holds their id (``SIS Login ID``, ``SIS User ID``,
``ID``, ``SID``, ``Email`` or its part before ``@``, ``Student``); students missing on
either side are listed, never silently dropped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.grading.course import Course, UsageError, display

FORMATS = ("canvas", "gradescope")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
GRADESCOPE_COLUMNS = ("Name", "SID", "Email", "Score")
ID_COLUMNS = ("SIS Login ID", "SIS User ID", "ID", "SID", "Email", "Student", "Name",
              "Full Name")


@dataclass
class Export:
    path: Path
    rows: int
    not_in_roster: list[str] = field(default_factory=list)  # graded, no roster row
    not_submitted: list[str] = field(default_factory=list)  # roster rows without a grade


def read_grades(course: Course, assignment: str) -> tuple[dict[str, float], float]:
    """student -> score, and the maximum, from the last ``grade``'s grades.csv."""
    path = course.reports_dir / assignment / "grades.csv"
    if not path.is_file():
        raise UsageError(f"no grades for '{assignment}' yet ({display(path)} is missing): "
                         f"grade it first with: cnncourse grade {assignment}")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    maximum = max((float(r["max_score"]) for r in rows), default=0.0)
    return {r["student"]: float(r["score"]) for r in rows}, maximum


def read_roster(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise UsageError(f"no roster at {display(path)}: export it from your platform (Canvas: "
                         "Grades, Export; Gradescope: Roster, Download) and give its path")
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = [r for r in csv.DictReader(handle) if any((v or "").strip() for v in r.values())
                and not (r.get("Student") or "").strip().startswith("Points Possible")]
    if not rows:
        raise UsageError(f"the roster {display(path)} has no students")
    return rows


def _identifiers(row: dict[str, str]) -> list[str]:
    found = []
    for column in ID_COLUMNS:
        value = (row.get(column) or "").strip()
        if value:
            found.append(value)
            if column == "Email" and "@" in value:
                found.append(value.split("@", 1)[0])
    return found


def label(row: dict[str, str]) -> str:
    """``Nil, Dana (dana)``: the name and the id a roster row gives."""
    name = next(((row.get(c) or "").strip() for c in ("Student", "Full Name", "Name")
                 if (row.get(c) or "").strip()), "")
    ids = [i for i in _identifiers(row) if i != name]
    return f"{name} ({ids[0]})" if name and ids else name or (ids[0] if ids else "?")


def match(grades: dict[str, float], roster: list[dict[str, str]]
          ) -> tuple[list[tuple[dict[str, str], str | None]], list[str]]:
    """Each roster row with the course student it names (or None), and the graded students
    no roster row names."""
    lowered = {s.lower(): s for s in grades}
    paired, used = [], set()
    for row in roster:
        student = next((lowered[i.lower()] for i in _identifiers(row)
                        if i.lower() in lowered), None)
        paired.append((row, student))
        if student:
            used.add(student)
    return paired, sorted(s for s in grades if s not in used)


def _score(value: float) -> str:
    return f"{value:g}"


def export(course: Course, assignment: str, fmt: str, roster_path: Path,
           output: Path | None = None) -> Export:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format '{fmt}': choose {' or '.join(FORMATS)}")
    grades, maximum = read_grades(course, assignment)
    roster = read_roster(roster_path)
    paired, not_in_roster = match(grades, roster)
    path = output or course.reports_dir / assignment / f"{assignment}_{fmt}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if fmt == "canvas":
            writer.writerow([*CANVAS_COLUMNS, assignment])
            writer.writerow(["Points Possible", "", "", "", "", _score(maximum)])
            for row, student in paired:
                writer.writerow([row.get(c, "") for c in CANVAS_COLUMNS]
                                + [_score(grades[student]) if student else ""])
        else:
            writer.writerow(GRADESCOPE_COLUMNS)
            for row, student in paired:
                if student:
                    name = row.get("Name") or row.get("Full Name") or row.get("Student", "")
                    writer.writerow([name, row.get("SID", ""), row.get("Email", ""),
                                     _score(grades[student])])
    not_submitted = [label(row) for row, student in paired if student is None]
    return Export(path, sum(1 for _, s in paired if s), not_in_roster, not_submitted)


def describe(result: Export) -> str:
    lines = [f"wrote {display(result.path)}: {result.rows} student(s) with a grade"]
    if result.not_submitted:
        lines.append(f"in the roster, no grade (left empty): {', '.join(result.not_submitted)}")
    if result.not_in_roster:
        lines.append(f"graded, not in the roster (not exported): "
                     f"{', '.join(result.not_in_roster)}")
    return "\n".join(lines)
