"""Run an nbgrader command (``nbgrader <argv>``) in this process and capture its log.

This is what the ``nbgrader`` console script does, minus ``sys.exit``: the app is reset
afterwards so the next command starts clean (nbgrader's own test suite runs it this way).
Importing nbgrader costs about 3 s, so one process runs several commands where it can.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from dataclasses import dataclass
from io import StringIO
from pathlib import Path


def ensure_venv_on_path() -> None:
    """Put this interpreter's ``bin/`` first on PATH.

    nbgrader creates a new gradebook by running the ``alembic`` script found on PATH; when
    ``cnncourse`` is started as ``.venv/bin/cnncourse`` without activating the venv, it is
    not there, and the new gradebook is left half made.
    """
    bin_dir = str(Path(sys.executable).parent)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if parts[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *parts])


@dataclass(frozen=True)
class NbgraderRun:
    """The outcome of one nbgrader command."""

    argv: tuple[str, ...]
    returncode: int
    log: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def errors(self) -> list[str]:
        """The log's ERROR lines without the logger prefix, tracebacks left out."""
        found = []
        for line in self.log.splitlines():
            if "| ERROR]" in line:
                message = line.split("]", 1)[1].strip()
                if message and not message.startswith("Traceback"):
                    found.append(message)
        return found


def run_nbgrader(argv: list[str], cwd: Path, config=None) -> NbgraderRun:
    """``nbgrader <argv>`` run from ``cwd``; ``config`` (a traitlets Config) overrides
    ``nbgrader_config.py`` and the command line. Never raises for a failed command."""
    from jupyter_core.application import NoStart
    from nbgrader.apps import NbGraderApp

    ensure_venv_on_path()
    buffer = StringIO()
    old_cwd = os.getcwd()
    os.chdir(cwd)
    app = NbGraderApp.instance()
    returncode = 0
    silenced: list[tuple[logging.Logger, list[logging.Handler]]] = []
    try:
        with warnings.catch_warnings():
            # sqlalchemy warns about nbgrader's own session use on every autograde
            warnings.simplefilter("ignore")
            app.initialize(list(argv))
            if config is not None:
                (app.subapp or app).update_config(config)
            for owner in (app, app.subapp):  # log into the buffer only, not the terminal
                if owner is not None:
                    silenced.append((owner.log, list(owner.log.handlers)))
                    for handler in list(owner.log.handlers):
                        owner.log.removeHandler(handler)
            app.init_logging(logging.StreamHandler, [buffer], color=False, subapps=True)
            app.start()
    except NoStart:  # how a finished subcommand ends
        returncode = 0
    except SystemExit as stop:
        returncode = stop.code if isinstance(stop.code, int) else 1
    except Exception as error:  # nbgrader bug or broken config: report it like a failure
        buffer.write(f"[nbgrader | ERROR] {type(error).__name__}: {error}\n")
        returncode = 1
    finally:
        app.reset()
        for logger, handlers in silenced:  # the next command starts with the usual handlers
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            for handler in handlers:
                logger.addHandler(handler)
        os.chdir(old_cwd)
    return NbgraderRun(argv=tuple(argv), returncode=returncode, log=buffer.getvalue())
