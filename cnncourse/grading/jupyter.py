"""``cnncourse jupyter``: JupyterLab on the course folder, with nbgrader's menus working.

nbgrader's JupyterLab extension reads ``nbgrader_config.py`` from the server's working
folder and from Jupyter's config path, not from where the notebooks are: started anywhere
else, the Formgrader finds no course and the Assignment List no exchange. So JupyterLab is
started in the course folder (its working folder and its root), with the course folder on
``JUPYTER_CONFIG_PATH`` (the Assignment List reloads the config from inside the folder
students fetch into), after making the exchange and that folder.

Where they are is the course's own setting (``Exchange.root``, ``Exchange.assignment_dir``
in ``nbgrader_config.py``, relative to that file), so plain ``nbgrader`` commands run from
the course folder use the same ones. Nothing here imports nbgrader or JupyterLab.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from cnncourse.grading.course import Course, UsageError, display

# What nbgrader's release_assignment gives the exchange: everyone may read, write and
# enter it (students on a shared machine submit into it); it resets any other mode.
EXCHANGE_MODE = 0o777
HIGHEST_PORT = 65535
# The course runs offline: no news feed, no asking PyPI for a newer JupyterLab.
OFFLINE = ("--LabApp.news_url=None",
           "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")


@dataclass(frozen=True)
class LabCourse:
    """The folders the nbgrader menus use, read from the course's ``nbgrader_config.py``."""

    course: Course
    course_id: str
    exchange: Path  # Exchange.root: where released assignments and submissions wait
    fetched: Path  # Exchange.assignment_dir: where the Assignment List fetches into


def _setting(config, section: str, name: str, course: Course) -> Path | None:
    value = config[section].get(name)
    if value is None:
        return None
    path = Path(str(value))
    return (path if path.is_absolute() else course.root / path).resolve()


def read_lab_course(course: Course) -> LabCourse:
    """The course id, exchange and fetch folder, checked; wrong settings are one line."""
    from traitlets.config.loader import PyFileConfigLoader

    where = display(course.config_file)
    if not course.config_file.is_file():
        raise UsageError(f"{display(course.root)} has no nbgrader_config.py: nbgrader's "
                         "menus need one (see exercises/nbgrader_config.py)")
    try:
        config = PyFileConfigLoader(course.config_file.name, path=str(course.root)).load_config()
    except Exception as error:  # the instructor's Python: a typo, an import that fails
        raise UsageError(f"cannot read {where}: {type(error).__name__}: {error}") from None
    course_id = str(config.CourseDirectory.get("course_id", ""))
    if not course_id:
        raise UsageError(f"{where} sets no course id: add c.CourseDirectory.course_id = "
                         "\"<course>\" (the Assignment List files assignments under it)")
    root = _setting(config, "CourseDirectory", "root", course)
    if root is not None and root != course.root:
        raise UsageError(f"{where} sets CourseDirectory.root to {root}, not its own folder "
                         f"{course.root}: set it to os.path.dirname(os.path.abspath(__file__))")
    exchange = _setting(config, "Exchange", "root", course)
    if exchange is None:
        raise UsageError(f"{where} sets no exchange: add c.Exchange.root = os.path.join("
                         "os.path.dirname(os.path.abspath(__file__)), \"exchange\")")
    fetched = _setting(config, "Exchange", "assignment_dir", course) or course.root
    if not fetched.is_relative_to(course.root):
        raise UsageError(f"{where} sets Exchange.assignment_dir to {fetched}, outside the "
                         "course folder that JupyterLab serves: fetched notebooks could not "
                         "be opened")
    return LabCourse(course=course, course_id=course_id, exchange=exchange, fetched=fetched)


def prepare_folders(lab: LabCourse) -> None:
    """Make the exchange (mode 777, as nbgrader's release sets it) and the fetch folder."""
    try:
        if not lab.exchange.is_dir():
            lab.exchange.mkdir(parents=True)
        if stat.S_IMODE(lab.exchange.stat().st_mode) != EXCHANGE_MODE:
            os.chmod(lab.exchange, EXCHANGE_MODE)  # mkdir's mode is cut by the umask
        lab.fetched.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot prepare the exchange {lab.exchange}: {error.strerror} "
                         "(Exchange.root in nbgrader_config.py names it)") from None


def lab_command(course: Course, port: int | None = None, open_browser: bool = True,
                allow_root: bool = False) -> list[str]:
    """``python -m jupyterlab`` serving the course folder (this interpreter's JupyterLab)."""
    argv = [sys.executable, "-m", "jupyterlab", f"--ServerApp.root_dir={course.root}",
            *OFFLINE]
    if port is not None:
        argv += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if not open_browser:
        argv.append("--no-browser")
    if allow_root:
        argv.append("--allow-root")
    return argv


def lab_environment(course: Course, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment with the course folder first on ``JUPYTER_CONFIG_PATH``."""
    env = dict(os.environ if base is None else base)
    paths = [p for p in env.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep) if p]
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(course.root), *paths])
    return env


def describe(lab: LabCourse) -> str:
    return "\n".join([
        f"JupyterLab on {display(lab.course.root)} (course id {lab.course_id}); the Nbgrader "
        "menu's Formgrader manages it,",
        f"its Assignment List fetches from the exchange {display(lab.exchange)} into "
        f"{display(lab.fetched)}/. Ctrl-C stops it.",
    ])


def start_jupyter(course: Course, port: int | None = None, open_browser: bool = True,
                  allow_root: bool = False) -> None:
    """Prepare the folders and replace this process by JupyterLab (never returns)."""
    if port is not None and port > HIGHEST_PORT:
        raise UsageError(f"--port must be at most {HIGHEST_PORT}, got {port}")
    if importlib.util.find_spec("jupyterlab") is None:
        raise UsageError("JupyterLab is not installed in this environment: pip install -r "
                         "requirements.txt (or the 'grading' extra)")
    lab = read_lab_course(course)
    prepare_folders(lab)
    print(describe(lab), flush=True)
    os.chdir(course.root)  # the Formgrader reads nbgrader_config.py from here
    argv = lab_command(course, port, open_browser, allow_root)
    os.execve(argv[0], argv, lab_environment(course))
