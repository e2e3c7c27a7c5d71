"""The ``cnncourse`` command's wrong-use messages and the mutant loader (fast: no kernels)."""

import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest

from cnncourse.cli import main
from cnncourse.grading.course import Course, find_course, repository_course
from cnncourse.grading.mutants import (
    MutantError,
    apply_mutant,
    load_mutants,
    mutant_problems,
    parse_mutant,
)

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "course"
TOY = FIXTURE / "source" / "toy" / "toy.ipynb"


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A copy of the toy course with the real nbgrader_config.py."""
    root = tmp_path / "course"
    shutil.copytree(FIXTURE, root)
    shutil.copy(REPO / "exercises" / "nbgrader_config.py", root)
    return root


def fake_release(root: Path, assignment: str) -> None:
    """Just enough gradebook for cnncourse to consider ``assignment`` released."""
    with sqlite3.connect(root / "gradebook.db") as db:
        db.execute("CREATE TABLE assignment (name VARCHAR)")
        db.execute("INSERT INTO assignment VALUES (?)", (assignment,))


def one_line_error(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert "Traceback" not in captured.err + captured.out
    return lines[0]


# ---- wrong use: one line on stderr, exit code 2 ----------------------------------------------

@pytest.mark.parametrize("verb", ["release", "solutions", "grade", "verify"])
def test_unknown_assignment_names_what_exists_and_what_to_type(course, capsys, verb):
    assert main([verb, "ps99", "--course", str(course)]) == 2
    line = one_line_error(capsys)
    assert line.startswith("cnncourse: no assignment 'ps99' in ")
    assert "Available: toy." in line
    assert f"Try: cnncourse {verb} toy" in line


def test_missing_course_folder_says_what_was_looked_for(tmp_path, capsys):
    missing = tmp_path / "nowhere"
    assert main(["release", "--course", str(missing)]) == 2
    line = one_line_error(capsys)
    assert str(missing) in line and "--course" in line


def test_folder_without_source_is_not_a_course(tmp_path, capsys):
    assert main(["release", "--course", str(tmp_path)]) == 2
    line = one_line_error(capsys)
    assert "has no source/" in line and "--course" in line


def test_grading_before_release_says_to_release(course, capsys):
    assert main(["grade", "toy", "--course", str(course)]) == 2
    assert "cnncourse release toy" in one_line_error(capsys)


def test_grading_without_submissions_says_where_they_go(course, capsys):
    fake_release(course, "toy")
    assert main(["grade", "toy", "--course", str(course)]) == 2
    line = one_line_error(capsys)
    assert "no submissions for 'toy'" in line
    assert "submitted/<student>/toy/toy.ipynb" in line


@pytest.mark.parametrize("argv", [
    ["grade"],  # the assignment is required
    ["grade", "toy", "--workers", "0"],
    ["grade", "toy", "--timeout", "soon"],
    ["publish"],  # no such command
    [],  # no command at all
])
def test_argument_mistakes_are_one_line(argv, capsys):
    assert main(argv) == 2
    line = one_line_error(capsys)
    assert "--help" in line


def test_course_option_works_before_and_after_the_command(course, capsys):
    for argv in (["--course", str(course), "grade", "ps99"], ["grade", "ps99", "--course",
                                                             str(course)]):
        assert main(argv) == 2
        assert "Available: toy" in one_line_error(capsys)


def test_help_describes_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for verb in ("release", "solutions", "grade", "verify", "--course"):
        assert verb in out


def test_python_dash_m_runs_the_same_command():
    done = subprocess.run([sys.executable, "-m", "cnncourse", "grade", "--help"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert "--workers" in done.stdout and "--timeout" in done.stdout


# ---- where the course is -----------------------------------------------------------------------

def test_default_course_is_exercises_in_the_current_folder(course, tmp_path, monkeypatch):
    shutil.move(course, tmp_path / "exercises")
    monkeypatch.chdir(tmp_path)
    assert find_course(None).root == (tmp_path / "exercises").resolve()


def test_default_course_falls_back_to_the_repository(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no exercises/ here
    assert find_course(None).root == repository_course().resolve()
    assert repository_course() == REPO / "exercises"
    assert main(["grade", "ps99"]) == 2  # and the command says which course it used
    assert f"course: {repository_course().resolve()}" in capsys.readouterr().out


def test_course_lists_assignments_and_settings(course):
    found = Course(course)
    assert found.assignments() == ["toy"]
    assert found.notebook_names("toy") == ["toy"]
    assert found.settings.course_id == "cnncourse"
    assert found.settings.cell_timeout == 60
    assert not found.released("toy")
    fake_release(course, "toy")
    assert found.released("toy")


# ---- mutants -----------------------------------------------------------------------------------

def write_mutant(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_mutant_header_is_parsed(tmp_path):
    path = write_mutant(tmp_path, "off_by_one", """
        # mutant: off-by-one output size
        # replaces: output_size_solution
        # loses: output_size_test,  output_size_test_hidden
        # message: expected 30, got 29
        # a comment that belongs to the code
        def conv_output_size(n, kernel):
            return n - kernel
        """)
    mutant = parse_mutant(path)
    assert mutant.name == "off_by_one"
    assert mutant.description == "off-by-one output size"
    assert mutant.replaces == "output_size_solution"
    assert mutant.loses == ("output_size_test", "output_size_test_hidden")
    assert mutant.message == "expected 30, got 29"
    assert mutant.code.splitlines()[0] == "# a comment that belongs to the code"
    assert mutant.code.endswith("return n - kernel")


@pytest.mark.parametrize(("text", "complaint"), [
    ("# mutant: x\n# replaces: a_solution\n# loses: a_test\ncode = 1\n", "# message:"),
    ("# replaces: a_solution\n# loses: a_test\n# message: m\ncode = 1\n", "# mutant:"),
    ("# mutant: x\n# mutant: y\n# replaces: a\n# loses: t\n# message: m\nx = 1\n", "twice"),
    ("# mutant: x\n# replaces:\n# loses: t\n# message: m\nx = 1\n", "has no value"),
    ("# mutant: x\n# replaces: a\n# loses: ,\n# message: m\nx = 1\n", "names no test cell"),
    ("# mutant: x\n# replaces: a\n# loses: t\n# message: m\n\n", "no code"),
])
def test_malformed_mutants_are_rejected_clearly(tmp_path, text, complaint):
    path = tmp_path / "bad.py"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MutantError, match=complaint) as caught:
        parse_mutant(path)
    assert str(path) in str(caught.value)


def test_load_mutants_reads_the_course_folder_sorted():
    mutants = load_mutants(FIXTURE, "toy")
    assert [m.name for m in mutants] == ["add_minus", "norm_no_sqrt"]
    assert load_mutants(FIXTURE, "no_such_assignment") == []


def test_apply_mutant_replaces_only_its_cell_and_copies():
    nb = nbformat.read(TOY, as_version=4)
    before = nbformat.writes(nb)
    mutant = load_mutants(FIXTURE, "toy")[0]
    mutated = apply_mutant(nb, mutant)
    assert nbformat.writes(nb) == before  # the original is untouched
    changed = [i for i, (a, b) in enumerate(zip(nb.cells, mutated.cells, strict=True))
               if a.source != b.source]
    assert len(changed) == 1
    cell = mutated.cells[changed[0]]
    assert cell.metadata.nbgrader.grade_id == "add_solution"
    assert cell.source == mutant.code


def test_apply_mutant_refuses_an_unknown_cell(tmp_path):
    path = write_mutant(tmp_path, "lost", """
        # mutant: points nowhere
        # replaces: no_such_solution
        # loses: add_test
        # message: m
        x = 1
        """)
    nb = nbformat.read(TOY, as_version=4)
    with pytest.raises(MutantError, match="no_such_solution"):
        apply_mutant(nb, parse_mutant(path))


def test_mutant_problems_catch_wrong_grade_ids(tmp_path):
    nb = nbformat.read(TOY, as_version=4)
    for mutant in load_mutants(FIXTURE, "toy"):
        assert mutant_problems(nb, mutant) == []
    path = write_mutant(tmp_path, "wrong", """
        # mutant: replaces a test cell, names an unknown test
        # replaces: add_test
        # loses: add_test, add_tset_hidden
        # message: m
        x = 1
        """)
    problems = mutant_problems(nb, parse_mutant(path))
    assert any("not a solution cell" in p for p in problems)
    assert any("add_tset_hidden" in p for p in problems)
