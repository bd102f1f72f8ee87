"""Every notebook runs in JupyterLab in headless Chromium, and every widget moves its output.

One JupyterLab server serves a temporary copy of ``notebooks/`` (Run All never touches the stored
notebooks, and nothing is saved); its kernels get the user's environment, with one thread. Per
notebook, a fresh Chromium driven by selenium opens it, clears the stored outputs, runs
JupyterLab's "Run All Cells" and checks what a learner sees:

* every code cell ran (it has an execution count) and no output is an error (a traceback);
* every code cell shows at least as many figures (``img`` in its output, widgets included) as
  the stored notebook holds image outputs for it;
* every ``interact`` box a cell makes is there, and each of its sliders, checkboxes and
  drop-downs, moved once (an arrow key on the slider's handle, a click, the next choice),
  changes the box's output (the printed text or a figure's PNG);
* the browser console holds no widget error ("Could not create a view", "Class ... not found":
  ipywidgets and its JupyterLab extension do not match).

When a check fails, a screenshot and the browser console are kept in ``browser-artifacts/<name>/``
(git-ignored) and the failure message names that folder. Without chromium, chromedriver (Debian's
packages) or selenium the module is skipped, except where ``CI=true``: there it fails.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from paa_edu.notebook import SAVE_FIGURES_ENV, STATIC_WIDGETS_ENV

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
ARTIFACTS = REPO / "browser-artifacts"
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
#: A cell that makes an ``interact`` box: ``interact(...)`` or ``interactive(...)``.
MAKES_WIDGET = re.compile(r"\binteract(ive)?\(")
#: Seconds: the server's start, a page's load, Run All of one notebook, one widget's redraw.
#: A notebook runs in 10-50 s on an idle CPU; these allow for a loaded 2-core machine (where
#: notebook 05 took 190 s with four times as many busy processes as cores).
SERVER_START_S, PAGE_LOAD_S, RUN_ALL_S, WIDGET_S = 90, 120, 480, 60
#: A console message of level SEVERE that matches this is a widget failure.
WIDGET_ERROR = re.compile(r"widget|could not create (a )?(child )?view|class \S+ not found", re.I)


def _missing_tools() -> list[str]:
    """The names of the missing browser tools: ``chromium``, ``chromedriver``, ``selenium``."""
    missing = [name for name in ("chromium", "chromedriver") if shutil.which(name) is None]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    return missing


@pytest.fixture(scope="module")
def browser_tools():
    """Skip the module without the browser tools; under ``CI=true`` fail instead."""
    missing = _missing_tools()
    if missing:
        reason = (f"{', '.join(missing)} missing: apt-get install chromium chromium-driver; "
                  "pip install -e '.[test]'")
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: the browser test must run; {reason}", pytrace=False)
        pytest.skip(reason)


# ---------------------------------------------------------------- the JupyterLab server ---

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _write_lab_settings(settings_dir: Path) -> None:
    """Every cell in the DOM (no windowing) and no news or update toasts over the widgets."""
    plugins = {"notebook-extension/tracker": {"windowingMode": "none"},
               "apputils-extension/notification": {"fetchNews": "false",
                                                   "checkForUpdates": False}}
    for plugin, values in plugins.items():
        path = settings_dir / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def _server_env(tmp: Path) -> dict[str, str]:
    """The server's, and so the kernels', environment: the user's, with live widgets, no
    figures written to ``docs/figures``, and one BLAS/OpenMP thread (the other pytest worker
    has the other core)."""
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"), "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    for name in (SAVE_FIGURES_ENV, STATIC_WIDGETS_ENV):
        env.pop(name, None)
    return env


def _lab_command(port: int, token: str, root: Path, tmp: Path) -> list[str]:
    """``jupyter lab`` on ``127.0.0.1:port`` serving ``root``, as ``window.jupyterapp``.

    ``--allow-root`` only when running as root: JupyterLab refuses to start as root without it.
    """
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
               f"--port={port}", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
               "--LabApp.expose_app_in_browser=True",
               f"--LabApp.user_settings_dir={tmp / 'settings'}",
               f"--LabApp.workspaces_dir={tmp / 'workspaces'}"]
    return command + (["--allow-root"] if os.geteuid() == 0 else [])


def _api(url: str, method: str = "GET"):
    """A JupyterLab REST call (``url`` carries the token); the decoded JSON, or ``None``."""
    with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=10) as reply:
        body = reply.read()
    return json.loads(body) if body else None


def _wait_for_server(process: subprocess.Popen, lab: dict) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"jupyter lab exited with {process.returncode}"
        with contextlib.suppress(OSError):
            _api(f"{lab['base']}/api/status?token={lab['token']}")
            return
        time.sleep(0.5)
    raise TimeoutError(f"jupyter lab did not answer in {SERVER_START_S} s")


def _shutdown_kernels(lab: dict) -> None:
    """Shut down every kernel of the server (the notebooks are closed unsaved)."""
    for kernel in _api(f"{lab['base']}/api/kernels?token={lab['token']}"):
        _api(f"{lab['base']}/api/kernels/{kernel['id']}?token={lab['token']}", "DELETE")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def lab(browser_tools, tmp_path_factory):
    """One ``jupyter lab`` for the module, serving a temporary copy of ``notebooks/``.

    Yields ``{"base", "token"}``; at the end the kernels are shut down and the server stopped.
    """
    tmp = tmp_path_factory.mktemp("jupyterlab")
    root = tmp / "notebooks"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns("_work", ".*"))
    _write_lab_settings(tmp / "settings")
    server = {"base": f"http://127.0.0.1:{_free_port()}", "token": uuid.uuid4().hex}
    port = int(server["base"].rsplit(":", 1)[1])
    with (tmp / "server.log").open("w") as log:
        process = subprocess.Popen(_lab_command(port, server["token"], root, tmp),
                                   env=_server_env(tmp), stdout=log, stderr=log)
        try:
            _wait_for_server(process, server)
            yield server
        finally:
            with contextlib.suppress(Exception):
                _shutdown_kernels(server)
            _stop(process)


# ------------------------------------------------------------------------- the browser ---

@pytest.fixture
def driver(lab):
    """A fresh headless Chromium (Debian's, through Debian's chromedriver) for one notebook.

    A fresh browser per notebook: no workspace or unsaved notebook carries over, and the
    console log is this notebook's own. The notebook's kernel is shut down afterwards.
    """
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--window-size=1400,1000", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.unhandled_prompt_behavior = "accept"
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver"))
    browser = webdriver.Chrome(options=options, service=service)  # no Selenium Manager download
    browser.console = []  # every console entry read so far (get_log drains the browser's)
    try:
        yield browser
    finally:
        browser.quit()
        with contextlib.suppress(Exception):
            _shutdown_kernels(lab)


def _console(browser) -> list[dict]:
    """The browser console so far: ``[{"level", "message", ...}]``."""
    browser.console.extend(browser.get_log("browser"))
    return browser.console


@contextlib.contextmanager
def _artifacts_on_failure(browser, name: str):
    """On a failure, keep ``browser-artifacts/<name>/`` (screenshot, console) and name it."""
    try:
        yield
        return
    except (Exception, pytest.fail.Exception) as error:
        failure = str(error)
    folder = ARTIFACTS / name
    folder.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        browser.save_screenshot(str(folder / "screenshot.png"))
    with contextlib.suppress(Exception):
        lines = [f"{e['level']} {e['message']}" for e in _console(browser)]
        (folder / "console.log").write_text("\n".join(lines) + "\n")
    message = f"{failure}\n(screenshot and browser console: {folder})"
    raise pytest.fail.Exception(message, pytrace=False) from None


def _wait(browser, condition, seconds: float, what: str):
    """Poll ``condition(browser)`` until it is truthy; its value, or a failure naming ``what``."""
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(browser, seconds, poll_frequency=0.5).until(condition)
    except Exception as error:
        pytest.fail(f"timed out after {seconds} s waiting for {what} ({error!r})")


# ------------------------------------------------------------- the notebook in the page ---

#: JavaScript: the state of the open notebook ``arguments[0]`` as JupyterLab's model holds it.
NOTEBOOK_STATE_JS = """
const app = window.jupyterapp;
if (!app) { return null; }
const panel = Array.from(app.shell.widgets('main')).find(
    w => w.context && w.context.path === arguments[0]);
if (!panel || !panel.context.isReady) { return null; }
const session = panel.sessionContext;
const cells = Array.from(panel.content.model.cells).filter(c => c.type === 'code');
return {
  id: panel.id,
  kernel: session.session && session.session.kernel ? session.kernelDisplayStatus : 'none',
  running: cells.filter(c => c.executionState === 'running').length,
  counts: cells.map(c => c.executionCount),
  errors: cells.flatMap((c, i) => c.outputs.toJSON().filter(o => o.output_type === 'error')
                                   .map(o => `code cell ${i}: ${o.traceback.join('\\n')}`)),
};
"""


def _state(browser, name: str):
    return browser.execute_script(NOTEBOOK_STATE_JS, name)


def _idle(browser, name: str):
    """The notebook's state once its kernel is idle and no cell runs, else ``None``."""
    state = _state(browser, name)
    return state if state and state["kernel"] == "idle" and not state["running"] else None


def _ran(browser, name: str):
    """The state once the notebook is idle and a cell has run since the outputs were cleared."""
    state = _idle(browser, name)
    return state if state and any(count is not None for count in state["counts"]) else None


def _open_and_run_all(browser, lab: dict, name: str) -> dict:
    """Open ``name``, clear its outputs, run JupyterLab's "Run All Cells"; the final state.

    Clearing first (execution counts included) means that every count and figure checked
    afterwards comes from this run, not from the stored notebook.
    """
    browser.get(f"{lab['base']}/lab/tree/{name}?reset&token={lab['token']}")
    state = _wait(browser, lambda b: _idle(b, name), PAGE_LOAD_S, f"{name}'s idle kernel")
    browser.execute_script("""
        const app = window.jupyterapp;
        app.shell.activateById(arguments[0]);
        app.commands.execute('notebook:clear-all-cell-outputs').then(
            () => app.commands.execute('notebook:run-all-cells'));""", state["id"])  # no wait
    return _wait(browser, lambda b: _ran(b, name), RUN_ALL_S, f"Run All of {name} to finish")


def _plain(text: str) -> str:
    """``text`` without its ANSI colour codes (a traceback as JupyterLab's model holds it)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _check_cells(state: dict) -> None:
    """No error output, and every code cell has an execution count."""
    if state["errors"]:
        pytest.fail(_plain("\n".join(state["errors"])))
    not_run = [i for i, count in enumerate(state["counts"]) if count is None]
    assert not not_run, f"code cells {not_run} did not run"


def _stored_code_cells(path: Path) -> list:
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _check_figures(browser, path: Path) -> int:
    """Every code cell shows at least the figures stored for it; the figures shown."""
    stored = [sum(any(m.startswith("image/") for m in output.get("data", {}))
                  for output in cell.outputs) for cell in _stored_code_cells(path)]
    shown = browser.execute_script("""
        return Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell')).map(
            cell => cell.querySelectorAll('.jp-OutputArea-output img').length);""")
    missing = [f"code cell {i}: {s} of {want}" for i, (s, want) in enumerate(zip(shown, stored))
               if s < want]
    assert len(shown) == len(stored), f"{len(shown)} code cells shown, {len(stored)} stored"
    assert not missing, f"figures shown of stored: {missing}"
    return sum(shown)


def _check_console(browser) -> None:
    errors = [e["message"] for e in _console(browser)
              if e["level"] == "SEVERE" and WIDGET_ERROR.search(e["message"])]
    assert not errors, f"widget errors in the browser console: {errors}"


# -------------------------------------------------------------------------- the widgets ---

#: CSS: the controls a learner moves, each in an ``interact`` box with an output below.
CONTROLS = ", ".join(f".widget-interact {control}" for control in (
    ".widget-slider .noUi-handle", ".widget-checkbox input[type=checkbox]",
    ".widget-dropdown select"))

#: JavaScript: what control ``arguments[0]`` shows (a slider's readout, a checkbox's state, a
#: drop-down's choice), its label, and its ``interact`` box's output: the text and the figures.
CONTROL_JS = """
const c = arguments[0];
const box = c.closest('.widget-slider, .widget-checkbox, .widget-dropdown');
const out = c.closest('.widget-interact').querySelector('.widget-output');
const value = c.type === 'checkbox' ? String(c.checked)
    : c.tagName === 'SELECT' ? c.value : box.querySelector('.widget-readout').textContent;
const label = Array.from(box.querySelectorAll('.widget-label-basic, .widget-label'),
                         l => l.textContent.replace(/\u200b/g, '').trim()).find(t => t);
const figures = out ? Array.from(out.querySelectorAll('img'), img => img.src) : [];
return {value: value, label: label || '?',
        output: out ? [out.innerText, ...figures].join('\\n').trim() : ''};
"""


def _control(control) -> dict:
    return control.parent.execute_script(CONTROL_JS, control)


def _move(control) -> None:
    """Move a control by one step: an arrow key on a slider, a click, the next choice."""
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    if control.tag_name == "select":
        select = Select(control)
        current = select.first_selected_option.get_attribute("value")
        select.select_by_value(next(o.get_attribute("value") for o in select.options
                                    if o.get_attribute("value") != current))
    elif control.get_attribute("type") == "checkbox":
        control.click()
    else:
        before = _control(control)["value"]
        control.send_keys(Keys.ARROW_RIGHT)
        if _control(control)["value"] == before:  # at its maximum
            control.send_keys(Keys.ARROW_LEFT)


def _check_control(browser, name: str, control) -> None:
    """Moving ``control`` changes its value and then, once the kernel is idle, its output."""
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", control)
    before = _control(control)
    _move(control)
    value = _control(control)["value"]
    what = f"widget '{before['label']}' moved from {before['value']} to {value}"
    assert value != before["value"], f"widget '{before['label']}' did not move"
    _wait(browser, lambda b: _idle(b, name) and _control(control)["output"] not in
          ("", before["output"]), WIDGET_S, f"{what} to change its output")


def _check_widgets(browser, path: Path) -> int:
    """Every ``interact`` box is there and each of its controls, moved once, changes its
    output; the number of controls moved."""
    expected = sum(bool(MAKES_WIDGET.search(c.source)) or WIDGET_MIME in json.dumps(c.outputs)
                   for c in _stored_code_cells(path))
    boxes = browser.find_elements("css selector", ".widget-interact")
    assert len(boxes) >= expected, f"{len(boxes)} interact boxes shown, {expected} expected"
    controls = browser.find_elements("css selector", CONTROLS)
    assert len(controls) >= len(boxes), f"{len(controls)} controls in {len(boxes)} boxes"
    for control in controls:
        _check_control(browser, path.name, control)
    return len(controls)


# ---------------------------------------------------------------------------- the test ---

@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_in_jupyterlab(lab, driver, path):
    start = time.monotonic()
    with _artifacts_on_failure(driver, path.stem):
        state = _open_and_run_all(driver, lab, path.name)
        ran = time.monotonic()
        _check_cells(state)
        figures = _check_figures(driver, path)
        controls = _check_widgets(driver, path)
        _check_console(driver)
    print(f"{path.name}: {len(state['counts'])} code cells ran ({ran - start:.0f} s), "
          f"{figures} figures, {controls} controls moved ({time.monotonic() - ran:.0f} s)")
