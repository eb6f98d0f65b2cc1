"""Choosing the world (Hub or offline), and the datasets caches of stand-in folders.

A real HTTP server on loopback stands in for the Hub endpoint in the probe tests; the local Hub of
stand-ins itself is tested in test_local_hub.py and test_hub_server.py.
"""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading

import pytest
from datasets import Audio, ClassLabel, Features, Value, load_dataset

from course_offline import layout, store
from course_offline.builders._writer import write_split
from course_utils import hub

from conftest import sine

FEATURES = Features(
    {
        "path": Value("string"),
        "audio": Audio(sampling_rate=8000),
        "intent_class": ClassLabel(names=["abroad", "address"]),
    }
)


class _CountingHub(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self):  # noqa: N802 - the http.server API
        type(self).hits += 1
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"[]")

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_hub(monkeypatch):
    """A real HTTP server on 127.0.0.1 standing in for the Hub endpoint."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _CountingHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _CountingHub.hits = 0
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    for name in ("HF_HUB_OFFLINE", "COURSE_LOCAL_HUB"):
        monkeypatch.delenv(name, raising=False)
    hub.hub_reachable.cache_clear()
    yield server
    server.shutdown()
    hub.hub_reachable.cache_clear()


def test_auto_probes_once_and_caches(fake_hub, monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "auto")
    assert hub.course_mode() == "hub"
    assert hub.course_mode() == "hub"
    assert _CountingHub.hits == 1  # the answer is cached for the process


def test_auto_offline_when_hub_unreachable_says_what_it_tried(monkeypatch, capsys):
    # A port nobody listens on: refused at once, tried twice, then offline with the reason.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("COURSE_MODE", "auto")
    for name in ("HF_HUB_OFFLINE", "COURSE_LOCAL_HUB"):
        monkeypatch.delenv(name, raising=False)
    hub.hub_reachable.cache_clear()
    try:
        assert hub.course_mode() == "offline"
    finally:
        hub.hub_reachable.cache_clear()
    out = capsys.readouterr().out
    assert "http://127.0.0.1:9" in out and "2 tries" in out and "COURSE_MODE=hub" in out


def test_hf_hub_offline_means_offline_without_a_probe(fake_hub, monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "auto")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert hub.course_mode() == "offline"
    assert _CountingHub.hits == 0  # no probe when the answer is known


def test_bad_mode_and_size_are_explained(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "online")
    with pytest.raises(ValueError, match="COURSE_MODE='online'"):
        hub.course_mode()
    monkeypatch.setenv("COURSE_SIZE", "huge")
    with pytest.raises(ValueError, match="COURSE_SIZE='huge'"):
        hub.course_size()


def test_hub_mode_refuses_an_endpoint_that_is_the_local_hub(monkeypatch):
    """Never a silent fall-through: COURSE_MODE=hub with HF_ENDPOINT on the stand-ins is an error."""
    monkeypatch.setenv("COURSE_MODE", "hub")
    monkeypatch.setenv("COURSE_LOCAL_HUB", "http://127.0.0.1:18001")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:18001")
    with pytest.raises(RuntimeError, match="local Hub of stand-ins"):
        hub.start_world()


def test_hub_world_leaves_the_clients_alone(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "hub")
    for name in ("HF_ENDPOINT", "COURSE_LOCAL_HUB", "HF_HOME"):
        monkeypatch.delenv(name, raising=False)
    world = hub.start_world(quiet=True)
    assert world.mode == "hub" and world.endpoint == hub.HUB
    assert "HF_ENDPOINT" not in __import__("os").environ and "HF_HOME" not in __import__("os").environ


def test_offline_world_in_a_fresh_interpreter(tmp_path):
    """The first cell's call, in a new interpreter, with no stand-in built: the local Hub starts, the
    clients go to it with their own HF_HOME, a second start reuses it, and an unbuilt stand-in
    says how to build it (no network timeout anywhere)."""
    code = r"""
import json, os, sys, time
import course_utils
t = time.monotonic()
world = course_utils.start_world()
again = course_utils.start_world(quiet=True)
from huggingface_hub import constants, HfApi
from huggingface_hub.errors import RepositoryNotFoundError
try:
    HfApi().dataset_info("PolyAI/minds14")
    error = ""
except RepositoryNotFoundError as e:
    error = str(e)
from course_offline import local_hub
print(json.dumps({"endpoint": world.endpoint, "again": again.endpoint, "hf_endpoint": constants.ENDPOINT,
                  "hf_home": constants.HF_HOME, "offline_flag": constants.HF_HUB_OFFLINE, "error": error,
                  "seconds": time.monotonic() - t, "stopped": local_hub.stop()}))
"""
    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith(("HF_", "COURSE_")) and k != "TRANSFORMERS_OFFLINE"}
    env.update(COURSE_MODE="offline", COURSE_SIZE="tiny", COURSE_DATA=str(tmp_path / "data"), HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["endpoint"].startswith("http://127.0.0.1:") and out["again"] == out["endpoint"]
    assert out["hf_endpoint"] == out["endpoint"] and not out["offline_flag"]
    assert out["hf_home"] == str(tmp_path / "data" / "tiny" / "hf_home")  # never the learner's own cache
    assert "PolyAI/minds14" in out["error"] and "build --only minds14 --size tiny" in out["error"]
    assert out["stopped"] is True
    assert "NOT the real Hub" in done.stdout
    assert out["seconds"] < 30


def test_start_world_after_the_clients_were_imported_says_restart(tmp_path):
    code = "import datasets, course_utils; course_utils.start_world()"  # datasets reads the endpoint
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("HF_", "COURSE_"))}
    env.update(COURSE_MODE="offline", COURSE_SIZE="tiny", COURSE_DATA=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode != 0 and "Restart the kernel" in done.stderr
    subprocess.run([sys.executable, "-m", "course_offline", "stop", "--size", "tiny"], env=env, timeout=60)


def _write_minds_like(folder, n: int, fingerprint: str):
    repo = layout.DATASETS["PolyAI/minds14"]
    rows = ({"path": f"{i}.wav", "audio": {"array": sine(200 + i, 0.2, 8000), "sampling_rate": 8000,
                                           "path": f"{i}.wav"}, "intent_class": i % 2} for i in range(n))
    write_split(folder, repo, "en-AU", "train", rows, FEATURES)
    (folder / store.STAMP).write_text(json.dumps({"fingerprint": fingerprint}))


def test_two_builds_of_one_standin_never_share_a_datasets_cache(offline, monkeypatch):
    """tiny and course builds have the same folder name and layout; each must load its own rows."""
    counts = {"tiny": 2, "course": 5}
    for size, n in counts.items():
        _write_minds_like(store.standin_dir("dataset", "minds14", size), n, f"{size}-build" * 4)
    for size, n in counts.items():
        assert len(store.load_standin("PolyAI/minds14", "en-AU", "train", size)) == n
    keys = {store.dataset_cache_dir(store.revision_dir("PolyAI/minds14", size=s)) for s in counts}
    assert len(keys) == 2


def test_a_plain_folder_replaced_in_place_loads_its_new_rows(offline, tmp_path):
    """``python -m course_utils.train dataset=FOLDER``: a folder rewritten with other rows loads the new rows."""
    import shutil

    from transformers import Wav2Vec2FeatureExtractor

    from course_utils.train import load_config, prepare_data

    model_dir = tmp_path / "model"
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(model_dir)
    folder = tmp_path / "gtzan"
    repo = layout.DATASETS["marsyas/gtzan"]
    keys = []
    for n in (10, 20):
        shutil.rmtree(folder, ignore_errors=True)
        features = Features({"file": Value("string"), "audio": Audio(sampling_rate=8000),
                             "genre": ClassLabel(names=["blues", "jazz"])})
        rows = ({"file": f"{i}.wav", "audio": {"array": sine(200 + i, 0.2, 8000), "sampling_rate": 8000,
                                               "path": f"{i}.wav"}, "genre": i % 2} for i in range(n))
        write_split(folder, repo, "all", "train", rows, features)
        branch = folder / layout.folder_name(layout.PARQUET)
        keys.append(store.dataset_cache_dir(branch))
        assert store.dataset_cache_dir(branch) == keys[-1]  # stable while the folder is unchanged
        cfg = load_config(overrides={"dataset": str(branch), "model": str(model_dir), "max_seconds": 1.0},
                          profiles=[])
        data = prepare_data(cfg, log=lambda line: None)
        assert len(data.train) + len(data.eval) == n
    assert keys[0] != keys[1]


def test_the_writer_follows_the_layout_table(tmp_path):
    """Files land where the table says the real repository has them; MINDS-14's `all` links its members."""
    from course_offline.builders._writer import link_config, write_card

    repo = layout.DATASETS["PolyAI/minds14"]
    for config in ("en-AU", "en-US"):
        rows = ({"path": f"{i}.wav", "audio": {"array": sine(300, 0.1, 8000), "sampling_rate": 8000, "path": None},
                 "intent_class": 0} for i in range(3))
        write_split(tmp_path, repo, config, "train", rows, FEATURES)
    link_config(tmp_path, repo, "all", ["en-AU", "en-US"], "train")
    write_card(tmp_path, repo, "# a stand-in")
    files = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["main/.gitattributes", "main/README.md", "main/minds14.py",
                     "refs%2Fconvert%2Fparquet/.gitattributes", "refs%2Fconvert%2Fparquet/all/train/0000.parquet",
                     "refs%2Fconvert%2Fparquet/all/train/0001.parquet",
                     "refs%2Fconvert%2Fparquet/en-AU/train/0000.parquet",
                     "refs%2Fconvert%2Fparquet/en-US/train/0000.parquet"]
    assert "offline stand-in" in (tmp_path / "main" / "README.md").read_text()
    esc = layout.DATASETS["ashraq/esc50"]
    assert esc.data_path("default", "train", 0, 2) == "data/train-00000-of-00002.parquet"


def test_layout_table_prints(capsys):
    from course_offline.__main__ import main

    assert main(["layout"]) == 0
    out = capsys.readouterr().out
    for hub_id in layout.DATASETS:
        assert f"`{hub_id}`" in out
    assert "(all absent)" in out  # FLEURS' `all` is absent from its parquet branch


def test_a_local_hub_that_died_mid_lesson_is_named_with_the_fix(tmp_path):
    """In a real IPython shell: the local Hub stops, the next Hub call fails, and the traceback is
    followed by the port and the command that restarts it (no fall-through to the real Hub)."""
    code = r"""
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
shell.run_cell("import course_utils; world = course_utils.start_world()")
shell.run_cell("from course_offline import local_hub; local_hub.stop()")
shell.run_cell("from huggingface_hub import HfApi; HfApi().dataset_info('PolyAI/minds14')")
"""
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("HF_", "COURSE_"))}
    env.update(COURSE_MODE="offline", COURSE_SIZE="tiny", COURSE_DATA=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    from course_offline import local_hub

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_DATA", str(tmp_path / "data"))
        port = local_hub.port_for("tiny")
    assert f"The local Hub at http://127.0.0.1:{port} is not answering" in done.stderr, done.stderr[-3000:]
    assert f"python -m course_offline serve --size tiny --port {port}" in done.stderr
    assert "huggingface.co" not in done.stderr
