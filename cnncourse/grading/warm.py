"""Imported once by the grading workers' fork server, so each worker starts warm.

Every submission is graded in its own process (see ``autograde.py``); forking those from
a server that has already imported nbgrader, torch and the checkers (the judge runs in the
worker) saves seconds of CPU per submission. torch starts no threads on import, so forking
after it is safe.

It also starts the sandbox's zygote (``zygote.py``): every worker forked from here inherits
its control socket, and forks each submission's runner from it instead of starting one.
"""

import sys

# jsonschema compiles an IRI grammar when imported (rfc3987-syntax, ~1.5 s of CPU);
# nbformat's schema never checks that format, so the grading workers skip it
sys.modules.setdefault("rfc3987_syntax", None)

import IPython.core.inputtransformer2  # noqa: E402, F401  (the policy's cell parser)
import jinja2  # noqa: E402, F401
import mistune  # noqa: E402, F401
import nbconvert.exporters.html  # noqa: E402, F401
import nbgrader.api  # noqa: E402, F401
import nbgrader.apps  # noqa: E402, F401
import pygments.lexers.python  # noqa: E402, F401
import torch  # noqa: E402, F401

import cnncourse.checks._core  # noqa: E402, F401
import cnncourse.grading.judge  # noqa: E402, F401
import cnncourse.grading.worker  # noqa: E402, F401
from cnncourse.grading import zygote  # noqa: E402

zygote.start_shared()
