"""nbgrader configuration for the cnncourse problem sets (this folder is the course dir).

Use it through ``cnncourse release | solutions | grade | verify``; plain ``nbgrader`` run
from this folder reads the same settings.
"""

import os

from cnncourse.grading.feedback import HideHiddenTests
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

c = get_config()  # noqa: F821 (injected by traitlets when it loads this file)

c.CourseDirectory.course_id = "cnncourse"
# The gradebook is the default: sqlite:///<this folder>/gradebook.db.

# Paths are this folder's wherever nbgrader or JupyterLab starts (traitlets defines
# __file__ when it loads this file), so the Formgrader finds the course. The exchange the
# Assignment List fetches from and submits to is exchange/ here (`cnncourse jupyter` makes
# it writable by all, as nbgrader requires; git ignores it); fetched work goes to fetched/.
_here = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.root = _here
c.Exchange.root = os.path.join(_here, "exchange")
c.Exchange.assignment_dir = os.path.join(_here, "fetched")

# Seconds per cell when a notebook is executed for grading. Generous: a correct but slow
# loop-based answer must not lose points on a 2-core laptop; `cnncourse grade --timeout`
# overrides it. A cell that runs out of time is interrupted and the next cell runs.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# What students see in place of a solution (python only in this course).
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# A test cell a student deleted is put back from the gradebook (with its hidden cases)
# instead of silently scoring nothing; `cnncourse grade` reports it.
c.OverwriteCells.add_missing_cells = True

# Pages an instructor or a student opens (feedback, formgrader) show a student's Markdown
# with its HTML sanitized: no scripts, no event handlers, no forms.
c.HTMLExporter.sanitize_html = True

# Feedback must not reveal hidden cases: nbgrader shows the autograded notebook as is
# (by design, jupyter/nbgrader#917), so drop the hidden regions and the traceback frames
# that quote the test cells' code; the checkers' messages stay.
c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideHiddenTests]
