"""The instructor command ``cnncourse`` (also ``python -m cnncourse``).

``release``, ``solutions``, ``grade`` and ``verify`` drive nbgrader on the course folder;
the work is done in :mod:`cnncourse.grading`. Wrong use gets one line on stderr and exit
code 2; a failure that stops a command (say, a reference solution that raises) exit code 1.
"""

from __future__ import annotations

import argparse
import os
import sys

from cnncourse.grading.course import (
    DEFAULT_COURSE,
    GradingError,
    UsageError,
    display,
    find_course,
)

DESCRIPTION = """\
Release, grade and check the cnncourse problem sets (nbgrader 0.9).

The course folder holds nbgrader_config.py, source/<assignment>/<assignment>.ipynb and
mutants/<assignment>/*.py; nbgrader adds release/, submitted/, autograded/, feedback/ and
gradebook.db, and cnncourse adds solutions/ and reports/.

A term, start to finish:
  cnncourse verify                  # source full marks, release zero, mutants lose points
  cnncourse release ps01_convolution
  ...students hand in; put each notebook at submitted/<student>/<assignment>/...
  cnncourse grade ps01_convolution --workers 2
  cnncourse solutions ps01_convolution
"""

COURSE_HELP = ("the nbgrader course folder (default: ./exercises; if there is none, the "
               "repository's exercises/ next to the installed cnncourse package)")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but wrong use is one line: what was wrong, and where help is."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: {message} (see: {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="cnncourse", description=DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course", metavar="DIR", default=None, help=COURSE_HELP)
    course_option = argparse.ArgumentParser(add_help=False)
    # SUPPRESS: given after the verb it counts, given before it is not overwritten
    course_option.add_argument("--course", metavar="DIR", default=argparse.SUPPRESS,
                               help=COURSE_HELP)
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=_OneLineParser)

    release = verbs.add_parser(
        "release", parents=[course_option], help="student versions into release/",
        description="Generate the student versions (nbgrader generate_assignment) into "
        "release/<assignment>/: solutions become stubs, hidden tests are removed, test cells "
        "are locked, and the assignment is recorded in gradebook.db. Run it again after "
        "editing a source notebook, before students get it.")
    release.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                         help="assignments in source/ (default: all)")

    solutions = verbs.add_parser(
        "solutions", parents=[course_option], help="executed solution notebooks",
        description="Write executed solution notebooks to solutions/<assignment>/: the "
        "reference answers without nbgrader's fences, hidden tests removed (students get "
        "these, and problem sets are reused), visible tests run so the outputs show them "
        "passing. Run it again whenever the reference code changes.")
    solutions.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                           help="assignments in source/ (default: all)")

    grade = verbs.add_parser(
        "grade", parents=[course_option], help="autograde every submission, write feedback",
        description="Autograde submitted/<student>/<assignment>/ for every student "
        "(nbgrader autograde, each in its own process and sandbox; new students are added "
        "to the gradebook), write feedback/<student>/<assignment>/*.html, print a score "
        "table, and write reports/<assignment>/grades.csv, grades_by_part.csv, parts.png "
        "and logs/. Each submission's code runs in an operating-system sandbox "
        "(bubblewrap: no course folder, no network, a private size-limited folder, an "
        "unprivileged user, every process ended with it; limits on time per cell, memory "
        "(4 GB), output (1 MB a cell), files and processes). The grade is computed here, "
        "outside the sandbox: the checkers build the reference's answers themselves and ask "
        "the sandbox only for the student's (plain numbers and arrays); hidden cases are "
        "drawn from the course's secret, hidden_cases.key. Forbidden functions and side "
        "doors are read from the source (the first lose the part, the second are flagged "
        "for review). A submission that crashes, hangs or is not a notebook gets what can "
        "be credited and the reason in grades.csv and its feedback; it never stops the "
        "others.")
    grade.add_argument("assignment", metavar="ASSIGNMENT", help="the assignment to grade")
    grade.add_argument("--force", action="store_true",
                       help="grade every submission again, also those whose submission, "
                       "assignment, grading code and settings are unchanged since their "
                       "stored grade (which are skipped otherwise)")
    grade.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="grade on a Dask cluster (tcp://HOST:PORT of its scheduler; its "
                       "workers must run the same course environment); this machine keeps "
                       "the gradebook")

    export = verbs.add_parser(
        "export", parents=[course_option], help="grades for Canvas or Gradescope",
        description="Write the last grading's scores in the shape a learning platform "
        "imports, joined on its roster: --format canvas (the roster's Student, ID, SIS and "
        "Section columns, a Points Possible row, one column for the assignment) or "
        "--format gradescope (Name, SID, Email, Score). Students missing on either side "
        "are listed.")
    export.add_argument("assignment", metavar="ASSIGNMENT", help="a graded assignment")
    export.add_argument("--format", required=True, choices=("canvas", "gradescope"))
    export.add_argument("--roster", required=True, metavar="ROSTER.csv",
                        help="the roster exported from the platform")
    export.add_argument("--output", metavar="FILE", default=None,
                        help="where to write (default: reports/<assignment>/"
                        "<assignment>_<format>.csv)")

    verify = verbs.add_parser(
        "verify", parents=[course_option], help="check that the tests grade as intended",
        description="In a temporary copy of the course, release each assignment and grade "
        "(1) the release answered with the reference solutions: full marks, (2) the "
        "unedited release: zero, (3) every mutant in mutants/<assignment>/: zero on exactly "
        "its '# loses:' test cells, with its '# message:'. Exit code 1 if any line fails.")
    verify.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                        help="assignments in source/ (default: all)")
    verify.add_argument("--mutants", type=_positive_int, default=None, metavar="N",
                        help="grade only N of each assignment's mutants, spread evenly over "
                        "its parts, for a quick check (default: all)")

    jupyter = verbs.add_parser(
        "jupyter", parents=[course_option], help="JupyterLab with nbgrader's menus working",
        description="Start JupyterLab on the course folder, so that the Nbgrader menu's "
        "Formgrader finds the course and its Assignment List the exchange (Exchange.root in "
        "nbgrader_config.py, made if missing). Ctrl-C stops it.")
    jupyter.add_argument("--port", type=_positive_int, default=None, metavar="N",
                         help="the port (default: JupyterLab's, 8888 or the next free one)")
    jupyter.add_argument("--no-browser", action="store_true", help="do not open a browser")
    jupyter.add_argument("--allow-root", action="store_true",
                         help="run as root (JupyterLab refuses otherwise; a container's root)")

    for sub in (grade, verify):
        sub.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                         help="submissions graded at the same time (default: 1; 2 suits a "
                         "2-core laptop)")
        sub.add_argument("--timeout", type=_positive_int, default=None, metavar="SECONDS",
                         help="time limit per notebook cell (default: Execute.timeout in "
                         "nbgrader_config.py)")
        sub.add_argument("--no-sandbox", action="store_true",
                         help="grade without the bubblewrap sandbox (the code runs with your "
                         "rights; every row of the report says so)")
    return parser


def run(args: argparse.Namespace) -> int:
    """Carry out one parsed command; exceptions are turned into messages by :func:`main`."""
    from cnncourse.grading.course import resolve_assignments

    course = find_course(args.course)
    if args.course is None and not DEFAULT_COURSE.is_dir():  # say so when it is not ./
        print(f"course: {course.root} (there is no ./exercises here; --course DIR picks "
              "another)")
    if args.verb == "release":
        from cnncourse.grading.release import release

        names = resolve_assignments(course, args.assignments, "release")
        release(course, names)
        print(f"Next: hand out {display(course.release_dir)}/<assignment>/, collect into "
              f"{display(course.submitted_dir)}/<student>/<assignment>/, then run: "
              f"cnncourse grade {names[0]}")
    elif args.verb == "solutions":
        from cnncourse.grading.solutions import build_solutions

        build_solutions(course, resolve_assignments(course, args.assignments, "solutions"))
    elif args.verb == "grade":
        from cnncourse.grading.grade import grade_assignment, summary

        assignment = resolve_assignments(course, [args.assignment], "grade")[0]
        graded = grade_assignment(course, assignment, workers=args.workers,
                                  cell_timeout=args.timeout, sandboxed=not args.no_sandbox,
                                  force=args.force, scheduler=args.scheduler)
        print(summary(graded, course, args.timeout))
    elif args.verb == "export":
        from pathlib import Path

        from cnncourse.grading.export import describe, export

        assignment = resolve_assignments(course, [args.assignment], "export")[0]
        print(describe(export(course, assignment, args.format, Path(args.roster),
                              Path(args.output) if args.output else None)))
    elif args.verb == "jupyter":
        from cnncourse.grading.jupyter import start_jupyter

        start_jupyter(course, port=args.port, open_browser=not args.no_browser,
                      allow_root=args.allow_root)
    elif args.verb == "verify":
        from cnncourse.grading.verify import verify

        names = resolve_assignments(course, args.assignments, "verify")
        if not verify(course, names, workers=args.workers, cell_timeout=args.timeout,
                      mutants=args.mutants, sandboxed=not args.no_sandbox):
            print("verify: FAILED (see the FAIL lines above)")
            return 1
        print(f"verify: all passed ({', '.join(names)})")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["lab"]:  # the course lab has its own verbs: cnncourse lab --help
        from cnncourse.lab.cli import main as lab_main

        return lab_main(argv[1:])
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help, or wrong use already reported in one line
        return stop.code if isinstance(stop.code, int) else 2
    if args.verb is None:
        print("cnncourse: choose a command: release, solutions, grade, export, verify or jupyter "
              "(see: cnncourse --help)", file=sys.stderr)
        return 2
    try:
        return run(args)
    except UsageError as error:
        print(f"cnncourse: {error}", file=sys.stderr)
        return 2
    except GradingError as error:
        print(f"cnncourse: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("cnncourse: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `cnncourse grade ... | head`: the reader left, stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
