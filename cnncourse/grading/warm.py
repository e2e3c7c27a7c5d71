"""Imported once by the grading workers' fork server, so each worker starts warm.

Every submission is graded in its own process (see ``autograde.py``); forking those from
a server that has already imported nbgrader and friends saves about a second of CPU per
submission, a quarter of the cost of grading a small notebook.
"""

import sys

# jsonschema compiles an IRI grammar when imported (rfc3987-syntax, ~1.5 s of CPU);
# nbformat's schema never checks that format, so the grading workers skip it
sys.modules.setdefault("rfc3987_syntax", None)

import ipykernel.kernelspec  # noqa: E402, F401  (what the workers use, imported once)
import jinja2  # noqa: E402, F401
import mistune  # noqa: E402, F401
import nbconvert.exporters.html  # noqa: E402, F401
import nbgrader.api  # noqa: E402, F401
import nbgrader.apps  # noqa: E402, F401
import pygments.lexers.python  # noqa: E402, F401

import cnncourse.grading.sandbox  # noqa: E402, F401
