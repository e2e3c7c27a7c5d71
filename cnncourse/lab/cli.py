"""``cnncourse lab list | run | check``: the course lab from the command line.

Wrong use and bad results get one line on stderr (what is wrong, what to run) and a
non-zero exit code, never a traceback: 2 for wrong use (an unknown experiment), 1 for
results that are missing, edited, stale, or whose claims fail.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cnncourse.lab.spec import LabError

DESCRIPTION = """\
The course lab: experiments too long for a chapter, run once, stored in results/, checked.

  cnncourse lab list                    the experiments and the state of their results
  cnncourse lab run degradation         run (or resume) one; 'all' runs every one
  cnncourse lab check                   verify files and hashes, decide the claims, replay

A run is resumable: run it again after a stop and it continues with the arms not stored.
"""


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but wrong use is one line: what was wrong, and where help is."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: {message} (see: {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a seed is a whole number, got '{text}'") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed is at least 0, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from cnncourse.lab.datasets import DATA_SETS

    parser = _OneLineParser(prog="cnncourse lab", description=DESCRIPTION,
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND", parser_class=_OneLineParser)
    results_option = argparse.ArgumentParser(add_help=False)
    results_option.add_argument("--results", metavar="DIR", type=Path, default=None,
                                help="the results folder (default: $CNNCOURSE_RESULTS, else "
                                "the repository's results/)")

    verbs.add_parser("list", parents=[results_option],
                     help="the experiments and the state of their results")

    run = verbs.add_parser(
        "run", parents=[results_option], help="run or resume experiments",
        description="Train every arm of every seed not already stored, storing each as it "
        "finishes. Results made under another config are removed first.")
    run.add_argument("names", nargs="+", metavar="NAME", help="experiments, or 'all'")
    run.add_argument("--seeds", nargs="+", type=_seed, default=None, metavar="SEED",
                     help="seeds to run (default: the experiment's own)")
    run.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    run.add_argument("--data", choices=DATA_SETS, default=None,
                     help="data set (default: the experiment's own, clutter10); results "
                     "on another go to results/NAME@DATA")
    run.add_argument("--threads", type=_positive_int, default=1, metavar="N",
                     help="torch threads (default: 1; the replay in check uses the same)")
    run.add_argument("--skip", nargs="+", default=[], metavar="NAME",
                     help="leave these out (with 'all': run the rest while another process "
                     "runs them)")

    check = verbs.add_parser(
        "check", parents=[results_option], help="verify results, decide claims, replay",
        description="For each experiment: verify every stored file against the manifest's "
        "sha256 and the config against its hash, decide every claim on the stored results, "
        "and retrain the first steps of one seed to compare with the stored losses.")
    check.add_argument("names", nargs="*", metavar="NAME", help="experiments (default: all)")
    check.add_argument("--data", choices=DATA_SETS, default=None,
                       help="check the results on this data set instead")
    check.add_argument("--replay-steps", type=int, default=None, metavar="N",
                       help="steps to replay per arm (default: 3; 0 skips the replay)")
    return parser


def _selected(names: list[str], data: str | None):
    """(experiment, its default data) for each name; 'all' or nothing means every one."""
    from cnncourse.lab.registry import experiments, get_experiment

    chosen = list(experiments().values()) if not names or names == ["all"] else [
        get_experiment(n) for n in names]
    out = []
    for experiment in chosen:
        default = experiment.config.data
        if data is not None and data != default:
            experiment = experiment.with_config(data=data)
        out.append((experiment, default))
    return out


def _status(experiment, default: str, root: Path | None) -> str:
    from cnncourse.lab.results import Results

    try:
        results = Results.load(experiment, default, root)
    except LabError as error:
        return str(error)
    seconds, cpu = results.wall_seconds(), results.cpu_seconds()
    total = sum(seconds.values())
    on_cpu = f", {sum(cpu.values()) / 60:.0f} min of CPU" if cpu else ""
    return (f"ok: seeds {', '.join(map(str, results.seeds))}, {total / 60:.0f} min of "
            f"training ({total / 60 / len(seconds):.1f} min a seed{on_cpu})")


def _print(line: str) -> None:
    print(line, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.verb == "list":
        for experiment, default in _selected([], None):
            print(f"{experiment.name:16s} {experiment.chapter:5s} {experiment.summary}")
            print(f"{'':22s} {_status(experiment, default, args.results)}")
        return 0
    if args.verb == "run":
        from cnncourse.lab.registry import get_experiment
        from cnncourse.lab.runner import run_experiment

        skipped = {get_experiment(name).name for name in args.skip}  # unknown: one line
        for experiment, default in _selected(args.names, args.data):
            if experiment.name in skipped:
                continue
            folder = run_experiment(experiment, default, args.seeds, args.device, args.threads,
                                    args.results, log=_print)
            _print(f"{experiment.name}: stored in {folder}")
        return 0
    if args.verb == "check":
        from cnncourse.lab.check import REPLAY_STEPS, check_experiment

        steps = REPLAY_STEPS if args.replay_steps is None else args.replay_steps
        unusable, failed = [], []
        for experiment, default in _selected(args.names, args.data):
            try:
                if not check_experiment(experiment, default, args.results, steps, log=_print):
                    failed.append(experiment.name)
            except LabError as error:  # its one line says what to run
                print(f"cnncourse lab: {error}", file=sys.stderr, flush=True)
                unusable.append(experiment.name)
        if failed:
            print(f"cnncourse lab check: claims or replay failed for {', '.join(failed)} (the "
                  "FAILS and DIFFERS lines above)", file=sys.stderr)
        return 1 if failed or unusable else 0
    raise AssertionError(args.verb)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as stop:  # --help, or wrong use already reported in one line
        return stop.code if isinstance(stop.code, int) else 2
    if args.verb is None:
        print("cnncourse lab: choose a command: list, run or check "
              "(see: cnncourse lab --help)", file=sys.stderr)
        return 2
    try:
        return run(args)
    except LabError as error:
        print(f"cnncourse lab: {error}", file=sys.stderr)
        return 2 if str(error).startswith("unknown") else 1
    except KeyboardInterrupt:
        print("cnncourse lab: interrupted; the arms already finished are stored, run the "
              "same command again to continue", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
