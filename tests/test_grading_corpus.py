"""The broken corpus (``tests/submissions/corpus.py``) through ``cnncourse grade``, graded as
ONE class of the toy assignment (one student per case). Attacks: test_grading_attacks.py.

The broken class is graded twice: the second run must give identical grades. Every case
must get its score and a reason that says what happened, in grades.csv and in its feedback
page; the controls must score as they would alone; the gradebook must agree with the CSV.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from cnncourse.cli import main
from cnncourse.grading.course import Course
from cnncourse.grading.verify import answered_release
from tests.submissions.corpus import BROKEN, Case, write_class

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "course"
TIMEOUT = "15"  # seconds per cell: enough for `import torch` on a busy machine, short for a loop


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def html_text(path: Path) -> str:
    page = path.read_text(encoding="utf-8")
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def graded_class(tmp: Path, cases: list[Case], runs: int = 1) -> tuple[Path, list[str]]:
    """The toy released, every case handed in, graded ``runs`` times with 2 workers;
    (course folder, the grades.csv + grades_by_part.csv text of each run)."""
    root = tmp / "course"
    root.mkdir()
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", root)
    shutil.copytree(FIXTURE / "source" / "toy", root / "source" / "toy")
    assert main(["release", "toy", "--course", str(root)]) == 0
    source = nbformat.read(root / "source" / "toy" / "toy.ipynb", as_version=4)
    release = nbformat.read(root / "release" / "toy" / "toy.ipynb", as_version=4)
    write_class(root, cases, answered_release(source, release))
    outputs = []
    for _ in range(runs):
        assert main(["grade", "toy", "--course", str(root), "--workers", "2",
                     "--timeout", TIMEOUT]) == 0
        outputs.append("".join((root / "reports" / "toy" / name).read_text(encoding="utf-8")
                               for name in ("grades.csv", "grades_by_part.csv")))
    return root, outputs


@pytest.fixture(scope="module")
def broken_class(tmp_path_factory):
    return graded_class(tmp_path_factory.mktemp("broken"), BROKEN, runs=2)


def needs_review(root: Path) -> dict[str, bool]:
    from nbgrader.api import Gradebook

    with Gradebook(Course(root).db_url, "cnncourse") as gradebook:
        return {s.student.id: bool(s.needs_manual_grade)
                for s in gradebook.assignment_submissions("toy")}


def check_cases(root: Path, cases: list[Case]) -> None:
    """Scores, reasons (CSV and feedback page), review flags, gradebook = CSV."""
    rows = {r["student"]: r for r in read_csv(root / "reports" / "toy" / "grades.csv")}
    assert sorted(rows) == sorted(c.student for c in cases)
    problems = []
    for case in cases:
        row = rows[case.student]
        if float(row["score"]) != case.score:
            problems.append(f"{case.student}: scored {row['score']}, expected {case.score:g} "
                            f"({case.what}); reason: {row['reason']}")
        if case.reason and not re.search(case.reason, row["reason"]):
            problems.append(f"{case.student}: reason {row['reason']!r} does not match "
                            f"{case.reason!r}")
        if not case.reason and row["reason"]:
            problems.append(f"{case.student}: unexpected reason {row['reason']!r}")
        page = root / "feedback" / case.student / "toy" / "toy.html"
        if not page.is_file():
            problems.append(f"{case.student}: no feedback page")
            continue
        text = html_text(page)
        if f"(Score: {case.score:g}" not in text and f"(Score: {case.score:.1f}" not in text:
            problems.append(f"{case.student}: the feedback does not show the score")
        if case.reason and not re.search(case.reason, text.replace("\n", " ")):
            problems.append(f"{case.student}: the feedback does not give the reason")
        if "HIDDEN TESTS" in text or "hidden=True" in text:
            problems.append(f"{case.student}: the feedback shows hidden tests")
    review = needs_review(root)
    for case in cases:
        if case.review and not review.get(case.student):
            problems.append(f"{case.student}: not flagged for review ({case.what})")
    assert not problems, "\n".join(problems)
    from nbgrader.api import Gradebook

    with Gradebook(Course(root).db_url, "cnncourse") as gradebook:
        stored = {s.student.id: s.score for s in gradebook.assignment_submissions("toy")}
    assert stored == {s: float(r["score"]) for s, r in rows.items()}


@pytest.mark.slow
def test_broken_submissions_each_get_a_score_and_a_reason(broken_class):
    root, _ = broken_class
    check_cases(root, BROKEN)


@pytest.mark.slow
def test_grading_the_broken_class_again_gives_identical_grades(broken_class):
    _, outputs = broken_class
    assert outputs[0] == outputs[1]


@pytest.mark.slow
def test_broken_submissions_leave_the_course_tidy(broken_class):
    root, _ = broken_class
    logs = root / "reports" / "toy" / "logs"
    assert sorted(p.stem for p in logs.iterdir()) == sorted(c.student for c in BROKEN)
    huge = root / "autograded" / "huge_output" / "toy" / "toy.ipynb"
    assert huge.stat().st_size < 3_000_000  # 100 MB printed, 1 MB kept
    assert (root / "feedback" / "huge_image" / "toy" / "toy.html").stat().st_size < 3_000_000
