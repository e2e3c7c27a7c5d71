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
