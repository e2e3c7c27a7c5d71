"""``cnncourse jupyter``: nbgrader's menus in JupyterLab find the course and its exchange.

The server is started as an instructor starts it (``cnncourse jupyter --course DIR --port N
--no-browser``, a known token) on a temporary copy of the course with ps01 released by
``cnncourse release``; Debian's Chromium (playwright) then opens the Nbgrader menu's
Formgrader and Assignment List. Without Chromium the browser test skips, except under CI
(``CI`` set), where it fails. The server's process group is gone when the module ends.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnncourse.cli import main
from cnncourse.grading.course import Course, UsageError
from cnncourse.grading.jupyter import (
    EXCHANGE_MODE,
    lab_command,
    lab_environment,
    prepare_folders,
    read_lab_course,
)

REPO = Path(__file__).resolve().parent.parent
EXERCISES = REPO / "exercises"
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TOKEN = "cnncourse-test-token"
ASSIGNMENT = "ps01_convolution"
BIN = Path(sys.executable).parent


def _course_copy(root: Path) -> Path:
    """The course's nbgrader_config.py and source/ (every assignment) in ``root``."""
    root.mkdir(parents=True)
    shutil.copy(EXERCISES / "nbgrader_config.py", root)
    shutil.copytree(EXERCISES / "source", root / "source",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    return root


# --------------------------------------------------------------------------- no server
def test_course_config_names_its_own_folders(tmp_path: Path) -> None:
    """nbgrader_config.py's paths follow the file, wherever the course is copied."""
    lab = read_lab_course(Course(_course_copy(tmp_path / "elsewhere").resolve()))
    root = (tmp_path / "elsewhere").resolve()
    assert (lab.course_id, lab.exchange, lab.fetched) == \
        ("cnncourse", root / "exchange", root / "fetched")


def test_exchange_made_writable_for_all(tmp_path: Path) -> None:
    lab = read_lab_course(Course(_course_copy(tmp_path / "course").resolve()))
    old = os.umask(0o022)
    try:
        prepare_folders(lab)
    finally:
        os.umask(old)
    assert (lab.exchange.stat().st_mode & 0o7777, lab.fetched.is_dir()) == (EXCHANGE_MODE, True)
    os.chmod(lab.exchange, 0o700)  # a wrong mode is put right, as nbgrader's release does
    prepare_folders(lab)
    assert lab.exchange.stat().st_mode & 0o7777 == EXCHANGE_MODE


def test_config_without_exchange_is_refused(tmp_path: Path) -> None:
    root = _course_copy(tmp_path / "course")
    config = root / "nbgrader_config.py"
    config.write_text("\n".join(line for line in config.read_text().splitlines()
                                if "c.Exchange.root" not in line) + "\n")
    with pytest.raises(UsageError, match="sets no exchange: add c.Exchange.root"):
        read_lab_course(Course(root.resolve()))


def test_broken_config_is_one_line(tmp_path: Path) -> None:
    root = _course_copy(tmp_path / "course")
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.Exchange.root = (\n")
    with pytest.raises(UsageError, match=r"^cannot read .*nbgrader_config.py: SyntaxError"):
        read_lab_course(Course(root.resolve()))


def test_wrong_use_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["jupyter", "--course", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cnncourse: no course folder at ") and err.count("\n") == 1
    assert main(["jupyter", "--port", "70000", "--course", str(_course_copy(tmp_path / "c"))]) == 2
    assert capsys.readouterr().err == "cnncourse: --port must be at most 65535, got 70000\n"


def test_server_command_and_environment(tmp_path: Path) -> None:
    course = Course(tmp_path)
    argv = lab_command(course, port=9999, open_browser=False)
    assert argv[:3] == [sys.executable, "-m", "jupyterlab"]
    assert {f"--ServerApp.root_dir={tmp_path}", "--ServerApp.port=9999", "--no-browser",
            "--LabApp.news_url=None"} <= set(argv)
    env = lab_environment(course, {"JUPYTER_CONFIG_PATH": "/a"})
    assert env["JUPYTER_CONFIG_PATH"] == os.pathsep.join([str(tmp_path), "/a"])


def test_git_ignores_the_exchange_and_fetched_work() -> None:
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    paths = ["exercises/exchange/cnncourse/outbound/x.ipynb", "exercises/fetched/ps01/x.ipynb"]
    done = subprocess.run(["git", "check-ignore", *paths], cwd=REPO, capture_output=True,
                          text=True)
    assert done.stdout.split() == paths


# --------------------------------------------------------------------------- the server
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(base: str, path: str) -> dict | list:
    request = urllib.request.Request(base + path, headers={"Authorization": f"token {TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 (loopback)
        return json.loads(answer.read())


@dataclass(frozen=True)
class Lab:
    course: Path  # the course copy JupyterLab serves
    base: str  # http://127.0.0.1:<port>
    env: dict[str, str]  # the server's environment (token, private Jupyter folders)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """``cnncourse jupyter`` on a course copy with ps01 released; stopped at the end."""
    tmp = tmp_path_factory.mktemp("jupyter")
    course = _course_copy(tmp / "course")
    port = _free_port()
    env = {**os.environ, "JUPYTER_TOKEN": TOKEN, "JUPYTER_CONFIG_DIR": str(tmp / "config"),
           "JUPYTER_DATA_DIR": str(tmp / "data"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")])}
    env.pop("JUPYTER_CONFIG_PATH", None)
    argv = [sys.executable, "-m", "cnncourse", "jupyter", "--course", str(course),
            "--port", str(port), "--no-browser"]
    if os.geteuid() == 0:  # a container's root: JupyterLab refuses it unless told
        argv.append("--allow-root")
    log = tmp / "jupyter.log"
    with log.open("wb") as out:  # started from elsewhere: the verb must not need the cwd
        server = subprocess.Popen(argv, cwd=tmp, env=env, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        # release while the server starts (two cores): the menus read the course per request
        released = subprocess.run([sys.executable, "-m", "cnncourse", "release", ASSIGNMENT,
                                   "--course", str(course)], cwd=tmp, env=env,
                                  capture_output=True, text=True, timeout=120)
        assert released.returncode == 0, released.stderr
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, "jupyter stopped:\n" + log.read_text()[-3000:]
            try:
                _get(base, "/api/status")
                break
            except OSError:
                assert time.monotonic() < deadline, "no server:\n" + log.read_text()[-3000:]
                time.sleep(0.3)
        yield Lab(course, base, env)
    finally:
        _stop(server)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM the server's process group (JupyterLab shuts down), then make sure."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + 10
    while True:  # nothing of the group may be left (kernels, terminals)
        try:
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            os.killpg(server.pid, signal.SIGKILL)
            pytest.fail("processes of the jupyter server were left running")
        time.sleep(0.2)


@pytest.mark.slow  # nbgrader release and a JupyterLab server
def test_verb_prepares_the_exchange(lab: Lab) -> None:
    assert (lab.course / "exchange").stat().st_mode & 0o7777 == EXCHANGE_MODE
    assert (lab.course / "fetched").is_dir()


def _release_to_exchange(lab: Lab) -> None:
    """``nbgrader release_assignment`` run plainly from the course folder (once)."""
    if any(lab.course.glob(f"exchange/cnncourse/outbound/{ASSIGNMENT}")):
        return
    done = subprocess.run([str(BIN / "nbgrader"), "release_assignment", ASSIGNMENT],
                          cwd=lab.course, env=lab.env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.slow  # nbgrader release and a JupyterLab server
def test_assignment_list_api(lab: Lab) -> None:
    """Before release_assignment: an empty list, not the exchange error; after: listed."""
    before = _get(lab.base, "/assignments?course_id=cnncourse")
    assert before == {"success": True, "value": []}
    _release_to_exchange(lab)
    after = _get(lab.base, "/assignments?course_id=cnncourse")
    assert after["success"], after
    assert [(a["course_id"], a["assignment_id"], a["status"]) for a in after["value"]] == \
        [("cnncourse", ASSIGNMENT, "released")]
    assert _get(lab.base, "/courses") == {"success": True, "value": ["cnncourse"]}


def _no_browser(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}. CI must check nbgrader's menus in a browser: install Debian's "
                    f"chromium (giving {CHROMIUM}) and playwright (requirements.txt)")
    pytest.skip(f"{reason}; install chromium (apt-get install chromium) to run this test")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the playwright package is not installed")
    if not CHROMIUM.exists():
        _no_browser(f"no browser at {CHROMIUM}")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                  args=BROWSER_ARGS)
        except PlaywrightError as error:
            _no_browser(f"{CHROMIUM} does not start under playwright ({error})")
        yield chromium
        chromium.close()


def _open_from_menu(page, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.locator(f".lm-Menu-itemLabel:text-is('{item}')").click()


@pytest.mark.slow  # nbgrader release and a JupyterLab server
def test_menus_in_jupyterlab(lab: Lab, browser) -> None:
    """Formgrader lists the course's assignments; the Assignment List the released one,
    and Fetch puts it in fetched/ (it reloads the config from there)."""
    _release_to_exchange(lab)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(f"{lab.base}/lab?token={TOKEN}")
        page.wait_for_selector("#jp-main-dock-panel", timeout=60_000)

        _open_from_menu(page, "Formgrader")
        formgrader = page.frame_locator("#formgrader-iframe iframe")
        row = formgrader.locator("tr", has=formgrader.locator(f"a:text-is('{ASSIGNMENT}')"))
        row.wait_for(timeout=30_000)
        assert "released" in row.inner_text()
        text = formgrader.locator("body").inner_text()
        assert "No nbgrader_config.py" not in text
        assert {"ps02_lenet", "ps08_compare"} <= set(text.split())  # every source assignment

        _open_from_menu(page, "Assignment List")
        released = page.locator("#released_assignments_list")
        released.get_by_text(ASSIGNMENT).wait_for(timeout=30_000)
        assert page.locator("#released_assignments_list_error").inner_text().strip() == ""
        assert "exchange directory does not exist" not in page.locator("body").inner_text()
        released.get_by_role("button", name="Fetch").click()
        page.locator("#fetched_assignments_list .assignment-notebooks-link",
                     has_text=ASSIGNMENT).wait_for(timeout=30_000)
        assert (lab.course / "fetched" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    finally:
        page.close()
