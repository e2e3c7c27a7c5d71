"""Grades exported for Canvas and Gradescope, joined on a roster (``grading/export.py``).

A class of four graded students against a roster of four: one student graded but missing
from the roster, one roster student without a grade. The files must be what those tools
import (Canvas: its gradebook export's first five columns, a Points Possible row, one
column per assignment; Gradescope: email or SID and a score), and both gaps listed.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from cnncourse.cli import main

ASSIGNMENT = "ps01_convolution"
GRADES = [("ann", 20), ("bob.k", 17.5), ("cem", 0), ("zed", 12)]
CANVAS_ROSTER = [
    ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Old quiz (12)"],
    ["    Points Possible", "", "", "", "", "10"],
    ["Lee, Ann", "101", "S101", "ann", "Lab A", "9"],
    ["Kay, Bob", "102", "S102", "bob.k", "Lab A", "7"],
    ["Can, Cem", "103", "S103", "cem", "Lab B", "8"],
    ["Nil, Dana", "104", "S104", "dana", "Lab B", "10"],
]
GRADESCOPE_ROSTER = [
    ["Full Name", "Email", "SID", "Role"],
    ["Ann Lee", "ann@uni.example", "S101", "Student"],
    ["Bob Kay", "bkay@uni.example", "bob.k", "Student"],
    ["Cem Can", "cem@uni.example", "S103", "Student"],
    ["Dana Nil", "dana@uni.example", "S104", "Student"],
]


def write_csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return path


def read_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


@pytest.fixture
def course(tmp_path):
    root = tmp_path / "course"
    (root / "source" / ASSIGNMENT).mkdir(parents=True)
    (root / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text("{}")
    reports = root / "reports" / ASSIGNMENT
    reports.mkdir(parents=True)
    write_csv(reports / "grades.csv", [["student", "assignment", "score", "max_score", "reason"],
                                       *[[s, ASSIGNMENT, g, 20, ""] for s, g in GRADES]])
    return root


def test_canvas_export_is_the_gradebook_import_with_both_gaps_listed(course, tmp_path, capsys):
    roster = write_csv(tmp_path / "canvas.csv", CANVAS_ROSTER)
    assert main(["export", ASSIGNMENT, "--course", str(course), "--format", "canvas",
                 "--roster", str(roster)]) == 0
    rows = read_rows(course / "reports" / ASSIGNMENT / f"{ASSIGNMENT}_canvas.csv")
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert rows[1] == ["Points Possible", "", "", "", "", "20"]
    assert rows[2:] == [["Lee, Ann", "101", "S101", "ann", "Lab A", "20"],
                        ["Kay, Bob", "102", "S102", "bob.k", "Lab A", "17.5"],
                        ["Can, Cem", "103", "S103", "cem", "Lab B", "0"],
                        ["Nil, Dana", "104", "S104", "dana", "Lab B", ""]]
    out = capsys.readouterr().out
    assert "3 student(s) with a grade" in out
    assert "in the roster, no grade (left empty): Nil, Dana (dana)" in out
    assert "graded, not in the roster (not exported): zed" in out


def test_gradescope_export_matches_on_sid_or_email(course, tmp_path, capsys):
    roster = write_csv(tmp_path / "gradescope.csv", GRADESCOPE_ROSTER)
    target = tmp_path / "scores.csv"
    assert main(["export", ASSIGNMENT, "--course", str(course), "--format", "gradescope",
                 "--roster", str(roster), "--output", str(target)]) == 0
    assert read_rows(target) == [["Name", "SID", "Email", "Score"],
                                 ["Ann Lee", "S101", "ann@uni.example", "20"],  # by email
                                 ["Bob Kay", "bob.k", "bkay@uni.example", "17.5"],  # by SID
                                 ["Cem Can", "S103", "cem@uni.example", "0"]]
    out = capsys.readouterr().out
    assert "no grade (left empty): Dana Nil (S104)" in out
    assert "roster (not exported): zed" in out


def test_export_mistakes_are_one_line(course, tmp_path, capsys):
    assert main(["export", ASSIGNMENT, "--course", str(course), "--format", "canvas",
                 "--roster", str(tmp_path / "missing.csv")]) == 2
    assert "no roster at" in capsys.readouterr().err
    (course / "reports" / ASSIGNMENT / "grades.csv").unlink()
    roster = write_csv(tmp_path / "canvas.csv", CANVAS_ROSTER)
    assert main(["export", ASSIGNMENT, "--course", str(course), "--format", "canvas",
                 "--roster", str(roster)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"cnncourse grade {ASSIGNMENT}" in err
