"""Submissions written to cheat, graded end to end through ``cnncourse grade`` in the sandbox
(``tests/submissions/attacks.py``), beside two honest students; then an honest class graded
with two workers while a second grading run loads the same cores.

What must hold: every attack scores at most what its honest part deserves, or is flagged;
the victims keep their grades; no process a submission started outlives ``grade``; nothing
outside a submission's sandbox was read or written (a canary in the course folder and the
gradebook are unchanged and appear in no output); no page an instructor opens holds active
content; the disk a submission filled is given back.
"""

from __future__ import annotations

import copy
import re
import secrets
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from cnncourse.cli import main
from cnncourse.grading.cells import cells_by_grade_id, grade_id
from cnncourse.grading.cells import test_cells as source_test_cells
from cnncourse.grading.mutants import apply_mutant, load_mutants
from cnncourse.grading.sandbox import availability
from cnncourse.grading.verify import answered_release
from tests.submissions.attacks import ASSIGNMENT, ATTACKS, FULL, POINTS, VICTIMS
from tests.test_grading_corpus import read_csv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = f"{ASSIGNMENT}.ipynb"


class ActiveContent(HTMLParser):
    """Collects what a browser would run: script elements, event attributes, script URLs,
    embedded frames."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "iframe", "object", "embed"):
            self.found.append(f"<{tag}>")
        for key, value in attrs:
            if key.startswith("on") or re.match(r"\s*javascript:", value or "", re.I):
                self.found.append(f"<{tag} {key}={value!r}>")


def active_content(page: str) -> list[str]:
    parser = ActiveContent()
    parser.feed(page)
    return parser.found


def _needs_sandbox() -> None:
    problem = availability()
    if problem:
        pytest.fail(f"the grading sandbox is not available here: {problem}")


def released_course(root: Path) -> nbformat.NotebookNode:
    """A course holding ps01, released; the release answered with the reference answers."""
    root.mkdir(parents=True)
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", root)
    shutil.copytree(REPO / "exercises" / "source" / ASSIGNMENT, root / "source" / ASSIGNMENT)
    assert main(["release", ASSIGNMENT, "--course", str(root)]) == 0
    source = nbformat.read(root / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    release = nbformat.read(root / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    return answered_release(source, release)


def hand_in(root: Path, student: str, nb: nbformat.NotebookNode, name: str = NOTEBOOK) -> None:
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / name)


def runners_alive() -> list[str]:
    found = subprocess.run(["pgrep", "-af", "cnncourse.probe.runner"], capture_output=True,
                           text=True, check=False).stdout
    return [line for line in found.splitlines() if "pgrep" not in line]


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    """The attack class graded once: (course folder, canary token, gradebook bytes after
    grading, grades.csv text right after grading)."""
    _needs_sandbox()
    root = tmp_path_factory.mktemp("attacks") / "course"
    full = released_course(root)
    token = secrets.token_hex(16)
    (root / "canary.txt").write_text(token, encoding="utf-8")
    for student in VICTIMS:
        hand_in(root, student, full)
    for attack in ATTACKS:
        hand_in(root, attack.student, attack.build(full, str(root)))
    assert main(["grade", ASSIGNMENT, "--course", str(root), "--workers", "2",
                 "--timeout", "30"]) == 0
    grades = (root / "reports" / ASSIGNMENT / "grades.csv").read_text(encoding="utf-8")
    return root, token, (root / "gradebook.db").read_bytes(), grades


def test_each_attack_scores_at_most_what_it_deserves_or_is_flagged(attacked):
    root = attacked[0]
    rows = {r["student"]: r for r in read_csv(root / "reports" / ASSIGNMENT / "grades.csv")}
    problems = []
    for attack in ATTACKS:
        row = rows[attack.student]
        score, reason = float(row["score"]), row["reason"]
        flagged = "review by hand" in reason
        if score > attack.deserved:
            problems.append(f"{attack.student}: {score:g} > {attack.deserved:g} "
                            f"({attack.what}); {reason}")
        if score < attack.deserved and not flagged:
            problems.append(f"{attack.student}: {score:g} < {attack.deserved:g}, the honest "
                            f"part lost points ({attack.what}); {reason}")
        if attack.flag and not flagged:
            problems.append(f"{attack.student}: not flagged ({attack.what}); {reason}")
        if attack.note and not re.search(attack.note, reason):
            problems.append(f"{attack.student}: reason {reason!r} lacks {attack.note!r}")
    assert not problems, "\n".join(problems)


def test_the_victims_keep_their_grades(attacked):
    root = attacked[0]
    rows = {r["student"]: r for r in read_csv(root / "reports" / ASSIGNMENT / "grades.csv")}
    for student in VICTIMS:
        assert float(rows[student]["score"]) == FULL and rows[student]["reason"] == ""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "cnncourse") as gradebook:
        for student in VICTIMS:
            submission = gradebook.find_submission(ASSIGNMENT, student)
            assert submission.score == FULL
            assert all(g.manual_score is None for nb in submission.notebooks
                       for g in nb.grades)


def test_no_process_outlives_grading(attacked):
    root, token, gradebook, grades = attacked
    assert runners_alive() == []
    time.sleep(3)  # what a surviving process would take to strike
    assert (root / "reports" / ASSIGNMENT / "grades.csv").read_text(encoding="utf-8") == grades
    assert (root / "canary.txt").read_text(encoding="utf-8") == token
    assert (root / "gradebook.db").read_bytes() == gradebook


def test_nothing_outside_the_sandbox_was_read(attacked):
    root, token = attacked[0], attacked[1]
    key = (root / "hidden_cases.key").read_text(encoding="utf-8").strip()
    for path in root.rglob("*"):
        if path.is_file() and path.suffix in (".ipynb", ".html", ".csv", ".log", ".json"):
            text = path.read_text(encoding="utf-8", errors="replace")
            assert token not in text, f"the canary leaked into {path}"
            assert key not in text, f"the course's secret leaked into {path}"
    reader = nbformat.read(root / "autograded" / "reads_gradebooks" / ASSIGNMENT / NOTEBOOK,
                           as_version=4)
    printed = "".join(o.get("text", "") for c in reader.cells if c.cell_type == "code"
                      for o in c.outputs)
    assert "No such file or directory" in printed and "victim1', (" not in printed


def test_no_page_holds_active_content(attacked):
    root = attacked[0]
    pages = sorted((root / "feedback").rglob("*.html"))
    assert len(pages) == len(ATTACKS) + len(VICTIMS)
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "default-src 'none'" in text and "script-src" not in text, page
        assert active_content(text) == [], page
    allowed = {"text/plain", "image/png", "image/jpeg"}
    for notebook in (root / "autograded").rglob("*.ipynb"):
        nb = nbformat.read(notebook, as_version=4)
        for cell in nb.cells:
            for output in cell.get("outputs", []):
                assert set(output.get("data", {})) <= allowed, (notebook, output)


def test_what_a_submission_wrote_is_gone(attacked):
    root = attacked[0]
    assert not list(root.rglob("big*.bin"))
    size = sum(p.stat().st_size for p in (root / "autograded").rglob("*") if p.is_file())
    assert size < 20_000_000


def test_the_scores_of_the_honest_parts_add_up():
    # the corpus's own arithmetic: what each attack deserves is a sum of whole parts
    assert sum(POINTS.values()) == FULL
    for attack in ATTACKS:
        assert 0 <= attack.deserved <= FULL


# --------------------------------------------------------------------------- an honest class
HONEST_LOOP = ("def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):\n"
               "    while True:\n        pass\n")
HONEST_MEMORY = ("import torch\nhuge = torch.empty(5 * 2**30 // 4)  # 5 GB of float32\n")


def honest_class(root: Path) -> dict[str, float]:
    """An honest class of ps01 in ``root``: full answers, the usual mistakes (mutants),
    an endless loop, a 5 GB tensor, a renamed notebook, a notebook saved with errors;
    the score each must get."""
    full = released_course(root)
    expected = {}
    hand_in(root, "alice", full)
    expected["alice"] = FULL
    mutants = load_mutants(REPO / "exercises", ASSIGNMENT)
    points = points_of_tests()
    for mutant in mutants[::5]:  # a few of the usual mistakes
        student = f"mistake-{mutant.name}"
        hand_in(root, student, apply_mutant(full, mutant))
        expected[student] = FULL - sum(points[g] for g in mutant.loses)
    looped = copy.deepcopy(full)
    cells_by_grade_id(looped)["output_size_solution"][1].source = HONEST_LOOP
    hand_in(root, "loops_forever", looped)
    expected["loops_forever"] = FULL - POINTS["output_size"]
    hungry = copy.deepcopy(full)
    position = cells_by_grade_id(hungry)["output_size_solution"][0]
    hungry.cells.insert(position + 1, nbformat.v4.new_code_cell(HONEST_MEMORY))
    hand_in(root, "five_gigabytes", hungry)
    expected["five_gigabytes"] = FULL
    hand_in(root, "renamed", full, name=f"{ASSIGNMENT}-Copy1.ipynb")
    expected["renamed"] = FULL
    saved = copy.deepcopy(full)
    for cell in saved.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="x",
                                                   traceback=["NameError: x"])]
    hand_in(root, "saved_with_errors", saved)
    expected["saved_with_errors"] = FULL
    return expected


def points_of_tests() -> dict[str, float]:
    source = nbformat.read(REPO / "exercises" / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    return {grade_id(c): float(c.metadata["nbgrader"]["points"]) for c in source_test_cells(source)}


def test_an_honest_class_is_graded_exactly_also_under_load(tmp_path):
    _needs_sandbox()
    root, other = tmp_path / "course", tmp_path / "other"
    expected = honest_class(root)
    assert honest_class(other) == expected
    # 10 CPU seconds a cell: plenty for ps01, and the endless loop costs little
    load = subprocess.Popen([sys.executable, "-m", "cnncourse", "grade", ASSIGNMENT,
                             "--course", str(other), "--workers", "2", "--timeout", "10"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert main(["grade", ASSIGNMENT, "--course", str(root), "--workers", "2",
                     "--timeout", "10"]) == 0
    finally:
        assert load.wait(timeout=1200) == 0
    for course in (root, other):
        rows = {r["student"]: r for r in read_csv(course / "reports" / ASSIGNMENT /
                                                   "grades.csv")}
        got = {s: float(r["score"]) for s, r in rows.items()}
        assert got == expected, {s: rows[s]["reason"] for s in rows if got[s] != expected[s]}
        assert re.search(r"ran out of memory: the limit is 4 GB",
                         rows["five_gigabytes"]["reason"])
        assert "graded ps01_convolution-Copy1.ipynb" in rows["renamed"]["reason"]
        assert rows["alice"]["reason"] == "" and rows["saved_with_errors"]["reason"] == ""
        assert "review by hand" not in " ".join(r["reason"] for r in rows.values())
