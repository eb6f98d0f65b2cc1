"""The lesson notebooks: stored as the generator writes them, executed top to bottom, figures checked.

Static checks (fast): stored-outputs policy, Colab badges, the setup cell, the APIs in view.
Execution (slow): nbval runs every notebook in a fresh kernel (``pytest --nbval-lax --nbval-sanitize-with
notebooks/nbval_sanitize.cfg``), offline on the tiny stand-ins by default (``COURSE_MODE=hub
COURSE_SIZE=course`` runs it against the Hub, as the GPU workflow does). Every cell must run, the
output-checked cells (``# NBVAL_CHECK_OUTPUT``) must match their stored output after sanitising,
each notebook's headline figure must clear its floor, and the HTML rendering must carry the plots
(PNG) and audio players.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NB_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NB_DIR.glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = NB_DIR / "solutions.ipynb"  # the exercises' solutions, executed like the lessons
CHECK = "# NBVAL_CHECK_OUTPUT"
sys.path.insert(0, str(ROOT / "scripts"))
import make_notebooks  # noqa: E402  (the generator: REPO_URL and the expected cells)

# Headline floors at the course size. Offline: the stand-ins' floors (issue 5), less a margin for the
# smaller evaluation samples. Hub: a little under the published figures of the real checkpoints.
# At the tiny size the floor is twice chance (see floor_for).
FLOORS = {
    ("offline", "course"): {"01": 0.60, "02": 0.80, "03": 0.70, "04": 0.60, "05": 0.70},
    ("hub", "course"): {"01": 0.80, "02": 0.90, "03": 0.80, "04": 0.80, "05": 0.70},
}
# Notebooks whose stand-in model is known not to clear the floor in a world, and why. Every other
# check of these notebooks still runs; only the floor is an expected failure, and a strict one.
KNOWN_BELOW_FLOOR: dict[tuple[str, str], dict[str, str]] = {
    # e.g. ("offline", "tiny"): {"01": "why, with the measured figure and the floor"}. Empty since the
    # tiny XLS-R stand-in learned to beat twice chance (notebook 01 at tiny size: 0.233, was 0.117).
}
CELL_TIMEOUT = 1200
API_IN_VIEW = {  # besides load_dataset and pipeline, which every lesson uses; the real ids in the call
    "01": ('load_dataset("PolyAI/minds14", data_dir="en-AU", revision="refs/convert/parquet"',
           'model="anton-l/xtreme_s_xlsr_300m_minds14"'),
    "02": ("streaming=True", "batch_size=", 'load_dataset("google/speech_commands", data_dir="v0.02", '
           'revision="refs/convert/parquet"', 'model="MIT/ast-finetuned-speech-commands-v2"'),
    "03": ("streaming=True", "top_k=5", 'PARQUET = "refs/convert/parquet"',
           'load_dataset("google/fleurs", data_dir="en_us", revision=PARQUET',
           'model="sanchit-gandhi/whisper-medium-fleurs-lang-id"', "list_repo_tree("),
    "04": ("ClapModel", "ClapProcessor", "zero-shot-audio-classification", "hypothesis_template",
           'load_dataset("ashraq/esc50", split="train")', 'checkpoint = "laion/clap-htsat-unfused"'),
    "05": ('load_dataset("marsyas/gtzan", data_dir="all", revision="refs/convert/parquet"',
           'model_id = "ntu-spml/distilhubert"', "AutoFeatureExtractor", "AutoModelForAudioClassification", "TrainingArguments", "Trainer(",
           "eval_strategy", "processing_class=", "compute_metrics", "train_test_split(seed=42", "cast_column",
           "save_model", "demo.close()", "with_transform(", "remove_unused_columns=False", "output_loading_info=True",
           "gr.Interface("),
}
ALLOWED_COURSE_UTILS = {
    "start_world", "quiet_logs", "course_size", "course_mode", "display", "metrics", "training", "train",
    "preprocessing", "demo", "sizing",
}


def stem(path: Path) -> str:
    return path.name.removesuffix(".ipynb")


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def text_of(outputs) -> str:
    """What a reader sees as text: streams and the plain-text form of results."""
    parts = []
    for out in outputs:
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def sanitizers() -> list[tuple[re.Pattern, str]]:
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(NB_DIR / "nbval_sanitize.cfg")
    return [(re.compile(cfg[s]["regex"]), cfg[s]["replace"]) for s in cfg.sections()]


def sanitize(text: str) -> str:
    for pattern, replace in sanitizers():
        text = pattern.sub(replace, text)
    return text.strip()


# --- static: what is stored ------------------------------------------------------------------------


def test_five_lessons_in_chapter_order():
    assert [p.name[:3] for p in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_"]
    assert {p.name for p in NOTEBOOKS} | {SOLUTIONS.name} == set(make_notebooks.NOTEBOOK_CELLS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=stem)
def test_each_lesson_ends_with_an_exercise_solved_in_the_solutions_notebook(path):
    nb = nbformat.read(path, as_version=4)
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert re.search(r"^#+ .*Exercise", text, re.M | re.I), f"{path.name}: no exercise"
    solutions = nbformat.read(SOLUTIONS, as_version=4)
    headings = [c.source for c in solutions.cells if c.cell_type == "markdown" and c.source.startswith("## Lesson")]
    assert any(h.startswith(f"## Lesson {int(path.name[:2])}:") for h in headings), headings


@pytest.mark.parametrize("path", NOTEBOOKS, ids=stem)
def test_the_headline_cell_is_hidden_plumbing(path):
    """report_headline feeds make course and the floors; a learner sees it collapsed and tagged."""
    nb = nbformat.read(path, as_version=4)
    (cell,) = [c for c in code_cells(nb) if "report_headline(" in c.source]
    assert "course-headline" in cell.metadata.get("tags", []) and cell.metadata.get("jupyter", {}).get("source_hidden")


@pytest.mark.parametrize("path", [*NOTEBOOKS, SOLUTIONS], ids=stem)
def test_short_setup_cell(path):
    """At most ten lines a learner reads, and the world is chosen before any Hugging Face import."""
    setup = code_cells(nbformat.read(path, as_version=4))[0].source
    assert len([line for line in setup.splitlines() if line.strip()]) <= 10, setup
    assert "course_utils.start_world()" in setup and "course_utils.quiet_logs()" in setup
    assert "transformers" not in setup and "datasets" not in setup


def test_notebook_04_names_the_clap_stand_ins_unseen_categories():
    """Notebook 04 scores the stand-in's truly zero-shot categories apart: the list must be the builder's."""
    from course_offline.builders.model_clap import UNSEEN

    assert sorted(make_notebooks.CLAP_UNSEEN) == sorted(UNSEEN)


def test_notebooks_match_their_generator():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_notebooks.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", [*NOTEBOOKS, SOLUTIONS], ids=stem)
def test_stored_without_outputs_except_checked_cells(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    checked = 0
    for cell in code_cells(nb):
        if cell.source.startswith(CHECK):
            checked += 1
            # nbval compares only reference cells that carry an execution count.
            assert cell.execution_count is not None, f"{path.name}: checked cell without an execution count"
            assert [o.output_type for o in cell.outputs] == ["stream"], f"{path.name}: checked cell without its expected output"
        else:
            assert cell.execution_count is None, f"{path.name}: stored with execution counts"
            assert cell.outputs == [], f"{path.name}: stored with outputs:\n{cell.source[:200]}"
    assert checked >= 1 or path == SOLUTIONS, f"{path.name} has no output-checked cell"


@pytest.mark.parametrize("path", [*NOTEBOOKS, SOLUTIONS], ids=stem)
def test_colab_badge_and_setup_cell(path):
    nb = nbformat.read(path, as_version=4)
    repo = make_notebooks.REPO_URL.removeprefix("https://github.com/")
    badges = re.findall(r"https://colab\.research\.google\.com/github/([^)\s]+)", nb.cells[0].source)
    assert badges == [f"{repo}/blob/{make_notebooks.BRANCH}/notebooks/{path.name}"], badges
    setup = code_cells(nb)[0].source
    assert f"git+{make_notebooks.REPO_URL}" in setup
    assert 'find_spec("course_utils") is None' in setup and "pip" in setup and "install" in setup
    assert "course_utils.start_world()" in setup


def test_all_repo_urls_agree():
    """One repository URL across the badges, the setup cells and the README's badges."""
    repo = make_notebooks.REPO_URL.removeprefix("https://github.com/")
    found = set()
    for path in NOTEBOOKS:
        text = path.read_text()
        found |= set(re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/", text))
        found |= set(re.findall(r"https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?[\"/\\]", text))
    readme = ROOT / "README.md"
    if readme.exists():
        text = readme.read_text()
        found |= set(re.findall(r"mybinder\.org/v2/gh/([\w.-]+/[\w.-]+)/", text))
        found |= set(re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/", text))
    assert found == {repo}, found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=stem)
def test_real_apis_in_view_and_course_utils_only_for_helpers(path):
    nb = nbformat.read(path, as_version=4)
    source = "\n".join(c.source for c in code_cells(nb))
    assert "load_dataset(" in source
    assert "pipeline(" in source
    for api in API_IN_VIEW.get(path.name[:2], ()):
        assert api in source, f"{path.name} does not show {api}"
    used = set(re.findall(r"course_utils\.(\w+)", source))
    used |= {n.strip() for m in re.findall(r"from course_utils import ([\w, ]+)", source) for n in m.split(",")}
    used |= set(re.findall(r"from course_utils\.(\w+)", source))
    assert used <= ALLOWED_COURSE_UTILS, used - ALLOWED_COURSE_UTILS
    assert source.count("report_headline(") == 1 and f'report_headline("{stem(path)}"' in source
    assert "evaluation_strategy" not in source and "tokenizer=feature_extractor" not in source
    # The library calls are the lesson (issue 29): datasets resamples, IPython plays, scikit-learn
    # draws the confusion matrix; the course's shortcuts for these stay out of the lessons.
    for call in ('cast_column("audio", Audio(sampling_rate=', "Audio(", "ConfusionMatrixDisplay.from_predictions("):
        assert call in source, f"{path.name} does not show {call}"
    assert re.search(r"import IPython\.display|from IPython\.display import", source), path.name
    for shortcut in ("to_pipeline_input", "load_audio", "fast_fbank", "display.play(", "format_topk", "guard_loss_scaling",
                     "metrics import confusion", "metrics import accuracy,", "with_preprocessing", "build_demo"):
        assert shortcut not in source, f"{path.name} still uses {shortcut}"


# --- execution -------------------------------------------------------------------------------------


def world() -> tuple[str, str]:
    return os.environ.get("COURSE_MODE", "offline"), os.environ.get("COURSE_SIZE", "tiny")


def floor_for(notebook: str, record: dict) -> float:
    """Tiny stand-ins train in seconds: their floor is twice chance. Otherwise a fixed floor."""
    mode, size = world()
    if size == "tiny":
        return 2 * record["chance"]
    return FLOORS[(mode, size)][notebook[:2]]


@pytest.fixture(scope="session")
def course_env(tmp_path_factory) -> dict:
    """Environment for the kernels; offline, the stand-ins are built first (reused when current)."""
    mode, size = world()
    env = {
        "COURSE_MODE": mode,
        "COURSE_SIZE": size,
        "COURSE_REPORT_DIR": str(tmp_path_factory.mktemp("reports")),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    if mode == "offline":
        env["COURSE_DATA"] = os.environ.get("COURSE_DATA") or str(tmp_path_factory.mktemp("course_data"))
        from course_offline.builders import BuildError, run_builds

        with pytest.MonkeyPatch.context() as mp:
            for key in ("COURSE_MODE", "COURSE_SIZE", "COURSE_DATA"):
                mp.setenv(key, env[key])
            try:
                run_builds(None, size=size)
            except BuildError as error:  # the notebooks that need it fail, naming what is missing
                print(error)
    return env


@pytest.fixture(scope="session")
def executed_dir(tmp_path_factory) -> Path:
    """Executed copies and their HTML; ``$COURSE_EXECUTED_DIR`` keeps them (CI uploads them)."""
    folder = os.environ.get("COURSE_EXECUTED_DIR")
    path = Path(folder) if folder else tmp_path_factory.mktemp("executed")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def nbval_run(course_env, executed_dir) -> dict:
    """All five notebooks through nbval, in one run, exactly as a contributor would run it:
    ``pytest --nbval-lax --nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks/``.
    The ``nbval_dump`` plugin keeps the executed notebooks and a per-notebook summary."""
    cmd = [sys.executable, "-m", "pytest", "-p", "nbval_dump", "--nbval-lax",
           "--nbval-sanitize-with", str(NB_DIR / "nbval_sanitize.cfg"), "--nbval-cell-timeout", str(CELL_TIMEOUT),
           "-p", "no:cacheprovider", "-q", "-o", "addopts=", *map(str, NOTEBOOKS), str(SOLUTIONS)]
    pythonpath = os.pathsep.join(filter(None, [str(ROOT / "tests"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, **course_env, "NBVAL_DUMP_DIR": str(executed_dir), "PYTHONPATH": pythonpath}
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    results_file = executed_dir / "results.json"
    assert results_file.exists(), f"nbval did not run:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    results = json.loads(results_file.read_text())
    print(f"nbval: {time.perf_counter() - start:.0f} s, exit {proc.returncode}")
    return {"returncode": proc.returncode, "stdout": proc.stdout, "results": results}


@pytest.mark.slow
@pytest.mark.notebooks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=stem)
def test_notebook_runs_and_meets_its_floor(path, nbval_run, course_env, executed_dir, record_property):
    """nbval executed every cell without error, the checked cells matched, and the headline clears its floor."""
    result = nbval_run["results"].get(path.name)
    assert result, f"{path.name} was not executed:\n{nbval_run['stdout'][-3000:]}"
    record_property("wall_seconds", result["wall_seconds"])
    print(f"{path.name}: {result['wall_seconds']} s")
    assert result["cells"] == len(code_cells(nbformat.read(path, as_version=4)))
    failures = "\n\n".join(f"cell {f['cell']}: {f.get('source', '')}\n{f['message']}" for f in result["failed"])
    assert not result["failed"], f"{path.name}:\n{failures}"

    # No warning walls: nothing on stderr longer than a few lines.
    nb = nbformat.read(executed_dir / path.name, as_version=4)
    for cell in code_cells(nb):
        err = "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stderr")
        assert err.count("\n") <= 6, f"{path.name}: stderr wall in cell\n{cell.source[:200]}\n---\n{err[:2000]}"

    report = Path(course_env["COURSE_REPORT_DIR"]) / f"{stem(path)}.json"
    assert report.exists(), f"{path.name} wrote no headline"
    record = json.loads(report.read_text())
    floor = floor_for(path.name, record)
    record_property("headline", record["value"])
    print(f"{path.name}: {record['metric']} = {record['value']:.3f} (floor {floor:.3f})")
    assert record["mode"] == course_env["COURSE_MODE"] and record["size"] == course_env["COURSE_SIZE"]
    assert 0.0 <= record["value"] <= 1.0 and record.get("n", 1) > 0, record
    known = KNOWN_BELOW_FLOOR.get(world(), {}).get(path.name[:2])
    if known:
        # Strict: once the stand-in clears its floor this fails, so the entry must be removed.
        assert record["value"] < floor, f"{path.name} now clears its floor: remove it from KNOWN_BELOW_FLOOR"
        pytest.xfail(f"{record['value']:.3f} < floor {floor:.3f}: {known}")
    assert record["value"] >= floor, record


@pytest.mark.slow
@pytest.mark.notebooks
def test_solutions_notebook_runs(nbval_run):
    result = nbval_run["results"].get(SOLUTIONS.name)
    assert result, f"{SOLUTIONS.name} was not executed:\n{nbval_run['stdout'][-3000:]}"
    assert result["cells"] == len(code_cells(nbformat.read(SOLUTIONS, as_version=4)))
    failures = "\n\n".join(f"cell {f['cell']}: {f.get('source', '')}\n{f['message']}" for f in result["failed"])
    assert not result["failed"], f"{SOLUTIONS.name}:\n{failures}"


def test_sanitizer_rules_cover_what_varies():
    """The rules in nbval_sanitize.cfg erase what changes between runs and keep what does not."""
    varying = ("<Figure at 0x7f3a2b1c9d90> took 12.5 s, 3.2 it/s, 00:42\n"
               "Train: 100%|##########| 36/36 [01:28<00:00, 2.45s/it]\n"
               "[offline stand-in] ntu-spml/distilhubert -> /tmp/nbdata/tiny/models/distilhubert")
    assert sanitize(varying) == ("<Figure at 0xADDRESS> took DURATION, RATE, CLOCK\nTrain: PROGRESS\n"
                                 "[offline stand-in] ntu-spml/distilhubert -> PATH")
    kept = "Wav2Vec2ForSequenceClassification expects 16000 Hz audio"
    assert sanitize(kept) == kept


@pytest.mark.slow
@pytest.mark.notebooks
def test_html_has_plots_and_audio_players(nbval_run, executed_dir):
    """``jupyter nbconvert --to html`` of each executed notebook shows PNG plots and audio players."""
    for path in NOTEBOOKS:
        executed = executed_dir / path.name
        assert executed.exists(), f"{path.name} was not executed"
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(executed),
                        "--output-dir", str(executed_dir)], check=True, capture_output=True)
        html = (executed_dir / f"{stem(path)}.html").read_text()
        # Plots, not icons: nbconvert's template embeds a PNG of its own of a few hundred bytes.
        pngs = len(re.findall(r"data:image/png;base64,[A-Za-z0-9+/=]{4000,}", html))
        players = len(re.findall(r"<audio\b[^>]*controls", html))
        assert pngs >= 2, f"{path.name}: {pngs} PNG images in the HTML"
        assert players >= 1 and "data:audio/wav;base64," in html, f"{path.name}: no audio player in the HTML"
