"""The course in a real browser, as a learner uses it (issue 28, item 8).

A headless Chromium (Debian's ``chromium`` + ``chromium-driver``), driven by Selenium:

1. JupyterLab, started the way ``make lab`` starts it (``python -m jupyter lab <notebooks>``) on a
   temporary copy of ``notebooks/``, on 127.0.0.1 with a token, in the offline world of the test run:
   lesson 1 is opened, run with Run > Run All Cells (the menus, clicked), and must finish with every
   code cell executed once in order (execution counts 1..N), no error output, no traceback on
   stderr, plots that decode and an ``<audio controls>`` player whose WAV decodes (readyState >= 1,
   duration > 0).
2. The genre demo of lesson 5 as a learner meets it: a ``gr.Interface`` with ``gr.Audio`` and
   ``gr.Label`` on 127.0.0.1, around an audio-classification pipeline on the local Hub's
   DistilHuBERT stand-in with GTZAN's ten genres. A generated WAV is uploaded through the page's
   file input, Submit is clicked, and the label shown must be one of the model's genres.

The demo is built here rather than by running lesson 5: that lesson trains a model first and its last
cell closes the demo, so a Run All leaves nothing to click. The app is the one the lesson builds: its
``classify`` calls ``course_utils.demo.classify_file``, ``gr.Audio(type="filepath")`` in,
``gr.Label(num_top_classes=3)`` out. What it checks is the browser side: upload, submit, a label rendered back.

Skipped when chromium, chromedriver or selenium is missing, except under CI (``CI=true``), where that
is a failure that says what to install (``bash scripts/install_browser.sh``). On a failure the
screenshots, page HTML, browser console log and JupyterLab's log are saved to ``$BROWSER_ARTIFACTS``
(default: a pytest temporary folder) and the test's output names the folder and shows their tails.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
LESSON_1 = "01_intent_classification_minds14.ipynb"
INSTALL = "bash scripts/install_browser.sh   (Debian packages chromium and chromium-driver)"
WINDOW = (1400, 1000)
LAB_START_TIMEOUT = 90  # s: JupyterLab answering its API
PAGE_TIMEOUT = 90  # s: the notebook open with an idle kernel
RUN_TIMEOUT = 300  # s: Run All on the tiny stand-ins (about 20 s on 2 cores)
DEMO_TIMEOUT = 60  # s: upload, submit and a label back
GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
TIMINGS: dict[str, float] = {}


# --- the browser ---------------------------------------------------------------------------------


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _missing(what: str, how: str = INSTALL) -> None:
    message = f"{what}. Install it with: {how}"
    if _in_ci():
        pytest.fail(f"CI=true and {message}", pytrace=False)
    pytest.skip(message)


def _which(override: str, names: tuple[str, ...]) -> str | None:
    if os.environ.get(override):  # an explicit choice, e.g. CHROMIUM=/opt/chrome/chrome
        return shutil.which(os.environ[override])
    return next((shutil.which(n) for n in names if shutil.which(n)), None)


def _find_chromium() -> tuple[str, str]:
    # Debian: chromium + chromium-driver (one source package, so their versions always match).
    browser = _which("CHROMIUM", ("chromium", "chromium-browser", "google-chrome"))
    driver = _which("CHROMEDRIVER", ("chromedriver", "chromium.chromedriver"))
    if not browser:
        _missing("no Chromium browser (chromium) on PATH")
    if not driver:
        _missing("no chromedriver on PATH")
    return browser, driver


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as error:
        return f"({path} unreadable: {error})"


class Browser:
    """A headless Chromium, its console log kept across calls, and failure evidence on demand."""

    def __init__(self, artifacts: Path, profile: Path):
        try:
            from selenium import webdriver
            from selenium.webdriver.chrome.service import Service
        except ImportError:
            _missing("selenium is not installed", 'pip install -e ".[test]"  (selenium is in the test extra)')
        browser, driver = _find_chromium()
        self.artifacts = artifacts
        options = webdriver.ChromeOptions()
        options.binary_location = browser
        for arg in ("--headless=new", f"--window-size={WINDOW[0]},{WINDOW[1]}", "--disable-dev-shm-usage",
                    "--disable-gpu", "--no-first-run", "--disable-extensions", "--mute-audio",
                    f"--user-data-dir={profile}"):
            options.add_argument(arg)
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            options.add_argument("--no-sandbox")  # Chromium refuses to start as root with its sandbox
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        # Both paths given: Selenium Manager never looks for (or downloads) a browser or driver.
        service = Service(executable_path=driver, log_output=str(artifacts / "chromedriver.log"))
        start = time.monotonic()
        self.driver = webdriver.Chrome(options=options, service=service)
        TIMINGS["chromium start"] = time.monotonic() - start
        self.driver.set_script_timeout(60)
        self.console: list[dict] = []

    def console_log(self) -> list[dict]:
        try:
            self.console += self.driver.get_log("browser")
        except Exception:  # noqa: BLE001 - a dead browser has no log; the failure says why already
            pass
        return self.console

    def snapshot(self, name: str) -> Path:
        shot = self.artifacts / f"{name}.png"
        with contextlib.suppress(Exception):
            self.driver.save_screenshot(str(shot))
            (self.artifacts / f"{name}.html").write_text(self.driver.page_source)
        return shot

    @contextlib.contextmanager
    def evidence(self, name: str, server_log: Path | None = None):
        """On any failure inside: screenshot, page, console and server log saved and summarised."""
        try:
            yield
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as error:  # pytest's failures are BaseExceptions too
            shot = self.snapshot(f"{name}-failure")
            console = self.console_log()
            (self.artifacts / f"{name}-console.log").write_text(
                "\n".join(f"{e.get('level')} {e.get('message')}" for e in console))
            loud = [e for e in console if e.get("level") in ("WARNING", "SEVERE")]
            parts = [f"\n=== browser test '{name}' failed: evidence in {self.artifacts} ===",
                     f"screenshot: {shot}", f"page: {shot.with_suffix('.html')}",
                     f"browser console, warnings and errors (last 15 of {len(loud)}; all in {name}-console.log):"]
            parts += [f"  {e.get('level')} {e.get('message')[:500]}" for e in loud[-15:]] or ["  (none)"]
            if server_log is not None:
                parts += [f"server log {server_log} (last 25 lines):", tail(server_log, 25)]
            report = "\n".join(parts)
            if hasattr(error, "add_note"):  # Python 3.11+: pytest shows it under the error
                error.add_note(report)
            else:
                print(report)
            raise

    def js_errors(self, origin: str) -> list[str]:
        """Uncaught JavaScript exceptions of the pages served from ``origin`` (not failed external
        resources: offline, the Colab badge image cannot load, and that is expected)."""
        return [e["message"][:500] for e in self.console_log()
                if e.get("level") == "SEVERE" and e.get("message", "").startswith(origin)
                and "Uncaught" in e["message"]]

    def quit(self) -> None:
        with contextlib.suppress(Exception):
            self.driver.quit()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory) -> Path:
    folder = os.environ.get("BROWSER_ARTIFACTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("browser")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser(artifacts, tmp_path_factory):
    b = Browser(artifacts, tmp_path_factory.mktemp("chromium-profile"))
    yield b
    (artifacts / "console.log").write_text("\n".join(f"{e.get('level')} {e.get('message')}" for e in b.console_log()))
    (artifacts / "timings.json").write_text(json.dumps(TIMINGS, indent=1))
    b.quit()
    print("\nbrowser test timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in TIMINGS.items()))


class GiveUp(AssertionError):
    """Raised by a condition of ``wait_for`` when waiting longer cannot help (a process died)."""


def wait_for(condition, timeout: float, what: str, interval: float = 0.5):
    """Poll ``condition()`` until it returns something truthy; fail saying ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except GiveUp:
            raise
        except Exception as error:  # noqa: BLE001 - the page may be mid-render; retried until the deadline
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                         + (f" (last error: {type(last_error).__name__}: {last_error})" if last_error else ""))


# --- JupyterLab ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lab(tmp_path_factory, artifacts):
    """``python -m jupyter lab`` on a copy of notebooks/, loopback, token, offline env; isolated settings."""
    work = tmp_path_factory.mktemp("lab")
    notebooks = work / "notebooks"
    shutil.copytree(ROOT / "notebooks", notebooks)
    for sub in ("config", "data", "runtime", "settings", "workspaces", "ipython"):
        (work / sub).mkdir()
    port, token = free_port(), uuid.uuid4().hex
    env = dict(os.environ)  # the offline world conftest started: HF_ENDPOINT, HF_HOME, COURSE_* ...
    env.update(JUPYTER_CONFIG_DIR=str(work / "config"), JUPYTER_DATA_DIR=str(work / "data"),
               JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               IPYTHONDIR=str(work / "ipython"), PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "jupyter", "lab", str(notebooks), "--no-browser", "--ip=127.0.0.1",
           f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
           "--ServerApp.open_browser=False",
           "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: read the cells' model, not pixels
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           f"--LabApp.user_settings_dir={work / 'settings'}", f"--LabApp.workspaces_dir={work / 'workspaces'}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")  # CI containers run as root; jupyter server refuses root without it
    log = artifacts / "jupyterlab.log"
    start = time.monotonic()
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def answers():
        if proc.poll() is not None:
            raise GiveUp(f"JupyterLab exited with {proc.returncode}")
        with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as response:
            return response.status == 200

    try:
        try:
            wait_for(answers, LAB_START_TIMEOUT, f"JupyterLab on {base}")
        except AssertionError as error:
            raise AssertionError(f"{error}\nJupyterLab log {log}:\n{tail(log)}") from None
        TIMINGS["jupyterlab start"] = time.monotonic() - start
        yield {"base": base, "token": token, "log": log, "notebooks": notebooks}
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # twice: jupyter server asks to confirm the first one
            time.sleep(0.5)
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # the server and the kernels it started
                proc.wait()


# The open notebook's state, read from JupyterLab's own model (window.jupyterapp) rather than the
# pixels: robust against cells that the notebook's windowing has not rendered.
NOTEBOOK_STATE = """
const app = window.jupyterapp;
if (!app || !app.shell) return null;
const path = arguments[0];
let panel = null;
for (const w of app.shell.widgets('main')) {
  if (w.context && w.context.path && w.context.path.endsWith(path)) { panel = w; break; }
}
if (!panel || !panel.content || !panel.content.model) return {open: false};
const session = panel.sessionContext && panel.sessionContext.session;
const kernel = session && session.kernel;
const cells = [];
const model = panel.content.model;
for (let i = 0; i < model.cells.length; i++) {
  const cell = model.cells.get(i);
  if (cell.type !== 'code') continue;
  const outputs = [];
  for (let j = 0; j < cell.outputs.length; j++) {
    const o = cell.outputs.get(j).toJSON();
    let text = '';
    if (o.output_type === 'stream') text = Array.isArray(o.text) ? o.text.join('') : (o.text || '');
    if (o.output_type === 'error')
      text = o.traceback && o.traceback.length ? o.traceback.join('\\n') : o.ename + ': ' + o.evalue;
    outputs.push({type: o.output_type, name: o.name || null, mimes: Object.keys(o.data || {}),
                  text: text.slice(-3000)});
  }
  cells.push({count: cell.executionCount, outputs: outputs, source: cell.sharedModel.getSource().slice(0, 120)});
}
return {open: true, ready: !!(panel.context.isReady && panel.sessionContext.isReady),
        kernel: kernel ? kernel.status : null, display: panel.sessionContext.kernelDisplayStatus,
        kernelName: kernel ? kernel.name : null, cells: cells};
"""

# Every <audio> matching arguments[0], after asking each to load: readyState, duration, error.
AUDIO_STATE = """
const done = arguments[arguments.length - 1];
const audios = Array.from(document.querySelectorAll(arguments[0]));
Promise.all(audios.map(a => new Promise(resolve => {
  const report = () => resolve({controls: a.controls, readyState: a.readyState, duration: a.duration,
                                error: a.error ? a.error.code : null, src: (a.currentSrc || '').slice(0, 30)});
  a.scrollIntoView({block: 'center'});
  if (a.readyState >= 1 && a.duration > 0) return report();
  a.addEventListener('loadedmetadata', report, {once: true});
  a.addEventListener('error', report, {once: true});
  if (a.networkState !== 2) { a.preload = 'metadata'; a.load(); }
  setTimeout(report, 20000);
}))).then(done);
"""

# Plots: every <img> in the outputs, scrolled into view, must have decoded.
IMAGE_STATE = """
const done = arguments[arguments.length - 1];
const imgs = Array.from(document.querySelectorAll('.jp-OutputArea-output img'));
Promise.all(imgs.map(img => { img.scrollIntoView({block: 'center'});
  return img.decode().then(() => img.naturalWidth, () => 0); })).then(done);
"""

# What the page shows as errors: stderr/error renderings with a traceback, and open dialogs.
PAGE_ERRORS = """
const errs = [];
for (const el of document.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')) {
  const t = el.innerText || '';
  if (/Traceback \\(most recent call last\\)/.test(t)) errs.push(t.slice(-2000));
}
const dialogs = Array.from(document.querySelectorAll('.jp-Dialog')).map(d => (d.innerText || '').slice(0, 500));
return {errors: errs, dialogs: dialogs};
"""


def _error_outputs(state) -> list[str]:
    found = []
    for i, cell in enumerate(state["cells"]):
        for out in cell["outputs"]:
            if out["type"] == "error" or (out["name"] == "stderr" and "Traceback" in out["text"]):
                text = re.sub(r"\x1b\[[0-9;]*m", "", out["text"])[-1500:]  # tracebacks carry ANSI colours
                found.append(f"code cell {i + 1} ({cell['source'][:60]!r}...):\n{text}")
    return found


def test_lesson1_runs_in_jupyterlab(browser, lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver = browser.driver
    with browser.evidence("lesson1", lab["log"]):
        start = time.monotonic()
        driver.get(f"{lab['base']}/lab/tree/{LESSON_1}?token={lab['token']}")

        def ready():
            state = driver.execute_script(NOTEBOOK_STATE, LESSON_1)
            return state if state and state.get("open") and state["ready"] and state["kernel"] == "idle" else None

        state = wait_for(ready, PAGE_TIMEOUT, f"JupyterLab to open {LESSON_1} with an idle kernel")
        assert state["kernelName"] == "python3", state["kernelName"]
        n_code = len(state["cells"])
        assert n_code >= 5, f"{LESSON_1}: only {n_code} code cells"
        TIMINGS["notebook open, kernel idle"] = time.monotonic() - start
        browser.snapshot("lesson1-opened")

        # Run > Run All Cells, through the menu bar as a learner does.
        start = time.monotonic()
        menu = WebDriverWait(driver, 20).until(ec.element_to_be_clickable(
            (By.XPATH, "//div[contains(@class,'lm-MenuBar-itemLabel') and normalize-space()='Run']")))
        menu.click()
        # The item by its label (its command is runmenu:run-all, which runs notebook:run-all-cells).
        item = WebDriverWait(driver, 10).until(ec.element_to_be_clickable(
            (By.XPATH, "//li[contains(@class,'lm-Menu-item')][div[contains(@class,'lm-Menu-itemLabel')"
                       " and normalize-space()='Run All Cells']]")))
        item.click()

        idle_with_error = [0]

        def finished():
            s = driver.execute_script(NOTEBOOK_STATE, LESSON_1)
            counts = [c["count"] for c in s["cells"]]
            if s["kernel"] == "idle" and all(c is not None for c in counts):
                return s
            if s["kernel"] == "idle" and _error_outputs(s):  # a failing cell stops Run All: no need to wait
                idle_with_error[0] += 1
                if idle_with_error[0] >= 4:
                    return s
            else:
                idle_with_error[0] = 0
            if s["kernel"] in ("dead", "unknown") or s["display"] in ("dead", "unknown"):
                raise GiveUp(f"the kernel died during Run All (status {s['kernel']}/{s['display']})")
            return None

        state = wait_for(finished, RUN_TIMEOUT, "Run All to finish (kernel idle, every code cell counted)", 1.0)
        TIMINGS["run all"] = time.monotonic() - start
        browser.snapshot("lesson1-done")

        errors = _error_outputs(state)
        if errors:
            raise AssertionError("error output after Run All:\n" + "\n".join(errors))
        counts = [c["count"] for c in state["cells"]]
        assert counts == list(range(1, n_code + 1)), f"execution counts after Run All in a fresh kernel: {counts}"
        first = "".join(o["text"] for o in state["cells"][0]["outputs"] if o["type"] == "stream")
        mode = os.environ.get("COURSE_MODE", "")
        if mode in ("offline", "hub"):  # the kernel is in the test run's world (lab passes the env on)
            assert f"Mode: {mode}" in first, f"the setup cell's output does not say 'Mode: {mode}':\n{first}"

        page = driver.execute_script(PAGE_ERRORS)
        if page["errors"]:
            raise AssertionError("the page shows a traceback:\n" + "\n---\n".join(page["errors"]))
        assert not page["dialogs"], f"a dialog is open after Run All: {page['dialogs']}"

        audio = driver.execute_async_script(AUDIO_STATE, ".jp-OutputArea-output audio")
        assert audio, "no <audio> player in the outputs (IPython.display.Audio)"
        for a in audio:
            assert a["controls"], f"an <audio> without controls: {a}"
            assert a["error"] is None and a["readyState"] >= 1, f"the audio player's source does not decode: {a}"
            assert a["duration"] and 0 < a["duration"] < 3600, f"the audio player has no duration: {a}"

        widths = driver.execute_async_script(IMAGE_STATE)
        assert widths and all(w > 0 for w in widths), f"plots missing or not decoding (natural widths {widths})"
        assert not browser.js_errors(lab["base"]), f"JupyterLab raised in the browser: {browser.js_errors(lab['base'])}"
        browser.snapshot("lesson1-checked")
        print(f"\n{LESSON_1}: {n_code} code cells ran; audio players {audio}; plot widths {widths}")


# --- the lesson-5 demo ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def genre_demo(tmp_path_factory):
    """The lesson-5 app: ``gr.Audio`` in, ``gr.Label`` out, on 127.0.0.1, around a pipeline on the
    DistilHuBERT stand-in with GTZAN's genres (its head untrained, as before lesson 5's training)."""
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    uploads = tmp_path_factory.mktemp("gradio")
    previous = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(uploads)  # uploads land here (when gradio is first imported here)
    start = time.monotonic()
    try:
        import gradio as gr
        import torch
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification, pipeline

        from course_utils.demo import classify_file

        torch.manual_seed(0)
        model_id = "ntu-spml/distilhubert"  # from the local Hub (offline) or the Hub
        extractor = AutoFeatureExtractor.from_pretrained(model_id)
        model = AutoModelForAudioClassification.from_pretrained(
            model_id, num_labels=len(GENRES), id2label=dict(enumerate(GENRES)),
            label2id={g: i for i, g in enumerate(GENRES)})
        classifier = pipeline("audio-classification", model=model, feature_extractor=extractor, device="cpu")
        calls = []

        def classify(path):
            scores = classify_file(classifier, path, top_k=3)  # the lesson's classify
            calls.append((path, scores))
            return scores

        demo = gr.Interface(classify, gr.Audio(type="filepath", sources=["upload", "microphone"]),
                            gr.Label(num_top_classes=3), title="Music genre classification", flagging_mode="never")
        demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                    share=False, ssr_mode=False)
        TIMINGS["demo imports, model, launch"] = time.monotonic() - start
        try:
            yield {"url": demo.local_url, "labels": list(model.config.id2label.values()), "calls": calls}
        finally:
            demo.close()
    finally:
        if previous is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = previous


def test_genre_demo_upload_and_label(browser, genre_demo, tmp_path):
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    rate = 22050  # GTZAN's rate: the demo must resample
    t = np.arange(3 * rate) / rate
    song = 0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.random.default_rng(0).standard_normal(t.size)
    wav = tmp_path / "my_song.wav"
    sf.write(wav, song.astype(np.float32), rate, subtype="PCM_16")

    driver = browser.driver
    wait = WebDriverWait(driver, DEMO_TIMEOUT)
    with browser.evidence("demo"):
        start = time.monotonic()
        driver.get(genre_demo["url"])
        upload = wait.until(ec.presence_of_element_located(
            (By.CSS_SELECTOR, "input[type=file][data-testid='file-upload']")))
        upload.send_keys(str(wav))  # what choosing a file in "Click to Upload" does
        # The upload is done when the drop zone has given way to a player of the file.
        wait.until_not(ec.presence_of_element_located(
            (By.CSS_SELECTOR, "[aria-label='Drop an audio file here to upload']")))
        # The file went to the server and came back playable: gradio's waveform player decoded it and
        # shows its length (3 s).
        duration = (By.CSS_SELECTOR, "[data-testid^='waveform'] time#duration")
        wait.until(ec.text_to_be_present_in_element(duration, "0:03"),
                   "the upload's player never showed the WAV's duration (0:03)")
        browser.snapshot("demo-uploaded")
        wait.until(ec.element_to_be_clickable((By.XPATH, "//button[normalize-space()='Submit']"))).click()

        def shown_label(d):  # the <h2> is re-rendered when the result arrives: look it up afresh
            return next((e.text.strip() for e in d.find_elements(By.CSS_SELECTOR, "[data-testid='label-output-value']")
                         if e.text.strip()), None)

        text = WebDriverWait(driver, DEMO_TIMEOUT, ignored_exceptions=(StaleElementReferenceException,)).until(
            shown_label, "no label shown after Submit")
        TIMINGS["demo upload, submit, label"] = time.monotonic() - start
        browser.snapshot("demo-labelled")
        assert text in genre_demo["labels"], f"the demo shows {text!r}, not one of the model's labels"
        # What the page shows is what the model answered for the uploaded file.
        assert len(genre_demo["calls"]) == 1, genre_demo["calls"]
        path, scores = genre_demo["calls"][0]
        got, sent = sf.info(path), sf.info(wav)
        assert (got.frames, got.samplerate) == (sent.frames, sent.samplerate), f"the app got {got}, not {sent}"
        assert text == max(scores, key=scores.get), (text, scores)
        listed = [e.text.strip() for e in driver.find_elements(
            By.CSS_SELECTOR, "[data-testid$='-confidence-set'] .text")]
        assert listed == sorted(scores, key=scores.get, reverse=True), (listed, scores)  # num_top_classes=3
        origin = genre_demo["url"].rstrip("/")
        assert not browser.js_errors(origin), f"the demo page raised: {browser.js_errors(origin)}"
        print(f"\ndemo: uploaded {wav.name}, the page shows {text!r}; top 3 {listed}")
