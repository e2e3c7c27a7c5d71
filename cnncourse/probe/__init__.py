"""The code that runs next to a student's code: inside the grading sandbox, and in-process
for the book's and the notebooks' self-checks.

A checker is split in two. The *judge* (``cnncourse.checks``) knows the task, computes the
reference's answers and compares; it never runs a student's code. The *probe* (this
package) holds the student's objects and does to them only what the judge asks (call this
function on these tensors, build this module, copy these weights in, run this input),
answering with plain data: numbers, strings, raw arrays (``wire.py``). When grading, the
probe runs in an operating-system sandbox and the judge in the grading process, so nothing
a submission does to its own interpreter can change a verdict.

- ``wire``      the plain-data encoding both sides speak (never pickle);
- ``guard``     traps for functions an exercise forbids (a convenience for honest mistakes);
- ``server``    the probe: answers the judge's requests about the student's objects;
- ``client``    the judge's view of a student's object (a handle) and the two transports;
- ``fixtures``  objects the judge may ask the probe to build (plain torch layers);
- ``outputs``   a cell's outputs as a notebook shows them, reduced to what no browser runs;
- ``runner``    the sandbox's main program: runs a notebook's cells, serves the judge;
- ``stubs``     the ``check_*`` functions a notebook finds inside the sandbox.

Everything here imports only the standard library, torch, numpy, IPython and this package:
the sandbox holds nothing else of ``cnncourse`` but the data loaders (see
``cnncourse.grading.view``).
"""
