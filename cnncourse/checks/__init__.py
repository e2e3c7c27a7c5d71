"""Checkers: the same functions serve the book's self-checks and the nbgrader test cells.

* ``cnncourse.checks._core``: what every checker shares (messages with expected vs got and a
  hint, the guard that traps forbidden functions and the course's reference, seeding).
* ``cnncourse.checks.psNN``: one module per problem set (``ps01`` convolution by hand,
  ``ps02`` LeNet, ``ps03`` AlexNet and VGG, ...), one ``check_<function>(student_fn,
  hidden=False)`` per graded part.

A checker returns normally, printing one line, when the answer is right, and raises
``AssertionError`` with a message the student can act on when it is not.
"""
