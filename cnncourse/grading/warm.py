"""Imported once by the grading workers' fork server, so each worker starts warm.

Every submission is graded in its own process (see ``autograde.py``); forking those from
a server that has already imported nbgrader and friends saves about a second of CPU per
submission, a quarter of the cost of grading a small notebook. The clean re-run
(``trusted.py``) forks from the worker and runs the setup cell, which imports torch and
the checkers: importing torch here saves that on every submission too (torch starts no
threads on import, so forking after it is safe).
"""

import sys

# jsonschema compiles an IRI grammar when imported (rfc3987-syntax, ~1.5 s of CPU);
# nbformat's schema never checks that format, so the grading workers skip it
sys.modules.setdefault("rfc3987_syntax", None)

import ipykernel.kernelspec  # noqa: E402, F401  (what the workers use, imported once)
import IPython.core.inputtransformer2  # noqa: E402, F401  (the clean re-run's cell parser)
import jinja2  # noqa: E402, F401
import mistune  # noqa: E402, F401
import nbconvert.exporters.html  # noqa: E402, F401
import nbgrader.api  # noqa: E402, F401
import nbgrader.apps  # noqa: E402, F401
import pygments.lexers.python  # noqa: E402, F401
import torch  # noqa: E402, F401
import torch._dynamo  # noqa: E402, F401  (it rewraps torch.manual_seed when first imported)

import cnncourse.checks._core  # noqa: E402, F401
import cnncourse.grading.sandbox  # noqa: E402, F401
import cnncourse.grading.trusted  # noqa: E402, F401
