"""Feedback that never shows hidden tests: an nbgrader preprocessor for ``generate_feedback``.

nbgrader renders the autograded notebook as it ran, hidden cases included (by design,
jupyter/nbgrader#917), and IPython's traceback quotes the failing line of the test cell.
:class:`HideHiddenTests` removes the ``### BEGIN HIDDEN TESTS`` regions from test cells and
trims their tracebacks to what helps a student: the frames in the student's own cells and
the checker's message (the last line). Frames quoting the test cell, or the checker's and
torch's internals (``File ...``), are dropped. ``exercises/nbgrader_config.py`` puts it in
``GenerateFeedback.preprocessors``.
"""

import re

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import List

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes."""
    return _ANSI.sub("", text)


def helps_student(entry: str, execution_count: int | None) -> bool:
    """Whether a traceback entry of a test cell stays: not the test cell's own frame, not
    library code (the checkers, torch), so the student's cells and the message remain."""
    text = strip_ansi(entry).lstrip()
    if text.startswith("File "):
        return False
    return execution_count is None or not text.startswith(f"Cell In[{execution_count}],")


def trim_traceback(traceback: list[str], execution_count: int | None) -> list[str]:
    """The entries that help, or only the message when no frame of the student's is left."""
    kept = [entry for entry in traceback[:-1] if helps_student(entry, execution_count)]
    if not any(strip_ansi(entry).lstrip().startswith("Cell In[") for entry in kept):
        kept = []  # a lone "Traceback (most recent call last)" header says nothing
    return kept + traceback[-1:]


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden test code from test cells and their tracebacks, keep the messages."""

    # configurable like nbgrader's GetGrades, so the HTML exporter's setting is accepted quietly
    display_data_priority = List(
        ["text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png",
         "image/jpeg", "text/plain"]
    ).tag(config=True)

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell):
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = trim_traceback(output.get("traceback", []),
                                                         cell.get("execution_count"))
        return cell, resources


NOTICE_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{assignment}: feedback for {student}</title>
<style>body{{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.5}}
td,th{{padding:.2em .8em;text-align:left}}</style></head>
<body><h1>{assignment} (Score: {score:g} / {max_score:g})</h1>
<p>Feedback for <b>{student}</b>.</p>
<h2>What happened</h2><ul>{reasons}</ul>
<h2>What to do</h2><p>{todo}</p>
<h2>Points per test</h2><table><tr><th>test</th><th>points</th><th>message</th></tr>
{rows}</table></body></html>
"""


def notice_page(assignment: str, student: str, grades: list[dict], reasons: list[str],
                outcomes: dict[str, dict]) -> str:
    """The feedback page for a submission nbgrader could not render feedback for (not a
    notebook, a crashed kernel): the score, why, what to do, and each test's points."""
    import html

    rows = []
    for grade in grades:
        outcome = outcomes.get(grade["notebook"], {}).get(grade["grade_id"], {})
        rows.append(f"<tr><td>{html.escape(grade['grade_id'])}</td>"
                    f"<td>{grade['auto_score']:g} / {grade['max_score']:g}</td>"
                    f"<td>{html.escape(outcome.get('message', '')[:300])}</td></tr>")
    todo = ("Open your notebook in Jupyter, choose Kernel &rarr; Restart Kernel and Run All "
            "Cells, fix what stops it, save, and submit it again. If you think the grade is "
            "wrong, ask your instructor: they have the grading log.")
    return NOTICE_TEMPLATE.format(
        assignment=html.escape(assignment), student=html.escape(student),
        score=sum(g["auto_score"] for g in grades), max_score=sum(g["max_score"] for g in grades),
        reasons="".join(f"<li>{html.escape(r)}</li>" for r in reasons) or "<li>-</li>",
        todo=todo, rows="\n".join(rows))


NOTES_BOX = """<div class="cnncourse-grading-notes"
style="border:2px solid #e9c46a;padding:.5em 1em;margin:1em;background:#fffbea">
<h2>Grading notes</h2><ul>{items}</ul>
<p>Your code was graded by running it again, part by part, apart from the tests: the points
below come from that run. If a note says a cell was changed, restored, cut or stopped, fix
that in your notebook, run Kernel &rarr; Restart Kernel and Run All Cells, and submit again.
If you think a grade is wrong, ask your instructor: they have the grading log.</p></div>
"""


def add_notes(page: str, reasons: list[str]) -> str:
    """nbgrader's feedback page with the grader's notes at the top of its body."""
    import html

    box = NOTES_BOX.format(items="".join(f"<li>{html.escape(r)}</li>" for r in reasons))
    match = re.search(r"<body[^>]*>", page)
    if match is None:
        return box + page
    return page[:match.end()] + box + page[match.end():]
