"""The Hub/offline switch and the resolvers, on real folders and a real HTTP server on loopback."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading

import numpy as np
import pytest
from datasets import Audio, ClassLabel, Features, Value, load_dataset

from course_utils import hub
from course_utils.builders._writer import write_card, write_split

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
def local_hub(monkeypatch):
    """A real HTTP server on 127.0.0.1 standing in for the Hub endpoint."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _CountingHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _CountingHub.hits = 0
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub.hub_reachable.cache_clear()
    yield server
    server.shutdown()
    hub.hub_reachable.cache_clear()


def test_auto_probes_once_and_caches(local_hub, monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "auto")
    assert hub.course_mode() == "hub"
    assert hub.course_mode() == "hub"
    assert _CountingHub.hits == 1  # the answer is cached for the process


def test_auto_offline_when_hub_unreachable(monkeypatch):
    # A port nobody listens on: the probe fails fast instead of hanging.
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("COURSE_MODE", "auto")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub.hub_reachable.cache_clear()
    try:
        assert hub.course_mode() == "offline"
    finally:
        hub.hub_reachable.cache_clear()


def test_hf_hub_offline_wins(local_hub, monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "hub")
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


def test_online_resolution_uses_parquet_conversion_for_script_repos(monkeypatch):
    monkeypatch.setenv("COURSE_MODE", "hub")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    minds = hub.resolve_dataset("PolyAI/minds14", "en-AU")
    assert minds.kwargs == {"path": "PolyAI/minds14", "name": "en-AU", "revision": "refs/convert/parquet"}
    assert not minds.standin
    esc = hub.resolve_dataset("ashraq/esc50")
    assert esc.kwargs == {"path": "ashraq/esc50"}  # already parquet on the Hub
    alias = hub.resolve_dataset("speech_commands", "v0.02")
    assert alias.path == "google/speech_commands"
    assert hub.resolve_model("MIT/ast-finetuned-speech-commands-v2") == "MIT/ast-finetuned-speech-commands-v2"
    assert hub.resolve_model("someone/other-model") == "someone/other-model"


def test_offline_unbuilt_standin_says_how_to_build(offline):
    with pytest.raises(hub.StandInNotBuilt) as error:
        hub.resolve_dataset("PolyAI/minds14", "en-AU")
    assert "python -m course_utils build --only minds14" in str(error.value)
    with pytest.raises(hub.StandInNotBuilt, match="no stand-in for it"):
        hub.resolve_dataset("someone/unknown")
    with pytest.raises(hub.StandInNotBuilt, match="build --only ast-speech-commands"):
        hub.resolve_model("MIT/ast-finetuned-speech-commands-v2")


def _write_minds_like(folder):
    rows = lambda cfg: (  # noqa: E731
        {"path": f"{cfg}/{i}.wav", "audio": {"array": sine(300 + 50 * i, 0.5, 8000), "sampling_rate": 8000,
                                             "path": f"{i}.wav"}, "intent_class": i % 2}
        for i in range(4)
    )
    for cfg in ("en-AU", "en-US"):
        write_split(folder, cfg, "train", rows(cfg), FEATURES)
    write_card(folder, {"en-AU": ["train"], "en-US": ["train"]}, "# stand-in", combined={"all": ["en-AU", "en-US"]})


def test_offline_resolution_returns_a_loadable_folder_and_announces_once(offline, capsys):
    folder = hub.standin_dir("dataset", "minds14")
    assert folder == offline / "tiny" / "datasets" / "minds14"
    _write_minds_like(folder)

    src = hub.resolve_dataset("PolyAI/minds14", "en-AU")
    assert src.standin and src.path == str(folder)
    ds = load_dataset(**src.kwargs, split="train")
    assert ds.features == FEATURES
    assert len(load_dataset(src.path, "all", split="train")) == 8
    decoded = ds[1]["audio"]
    assert decoded["sampling_rate"] == 8000
    np.testing.assert_allclose(decoded["array"], sine(350, 0.5, 8000), atol=1e-4)

    hub.resolve_dataset("PolyAI/minds14", "en-AU")
    out = capsys.readouterr().out
    assert out.count("[offline stand-in] PolyAI/minds14 (en-AU)") == 1
    assert "NOT the real Hub dataset" in out


def test_offline_model_resolution(offline, capsys):
    folder = hub.standin_dir("model", "distilhubert")
    folder.mkdir(parents=True)
    assert hub.resolve_model("ntu-spml/distilhubert") == str(folder)
    assert "NOT the real Hub model" in capsys.readouterr().out


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "course_utils", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_resolve_and_doctor(offline, monkeypatch):
    import os

    env = dict(os.environ)
    _write_minds_like(hub.standin_dir("dataset", "minds14"))
    done = _cli("resolve", "PolyAI/minds14", "--config", "en-AU", env=env)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout[done.stdout.index("{"):])
    assert answer["standin"] is True and answer["load_dataset"]["name"] == "en-AU"

    missing = _cli("resolve", "laion/clap-htsat-unfused", env=env)
    assert missing.returncode == 1 and "build --only clap-htsat-unfused" in missing.stderr

    doctor = _cli("doctor", env=env)
    assert "[ok] ffmpeg" in doctor.stdout and "mode=offline" in doctor.stdout
    # The doctor's verdict must match its lines: exit 0 exactly when no check failed.
    assert (doctor.returncode == 0) == ("[FAIL]" not in doctor.stdout)


def test_two_builds_of_one_standin_never_share_a_datasets_cache(offline, monkeypatch):
    """tiny and course builds have the same folder name and layout; each must load its own rows."""
    import json as _json

    counts = {"tiny": 2, "course": 5}
    for size, n in counts.items():
        folder = hub.standin_dir("dataset", "minds14", size)
        rows = ({"path": f"{i}.wav", "audio": {"array": sine(200 + i, 0.2, 8000), "sampling_rate": 8000,
                                               "path": f"{i}.wav"}, "intent_class": i % 2} for i in range(n))
        write_split(folder, "en-AU", "train", rows, FEATURES)
        write_card(folder, {"en-AU": ["train"]}, "# stand-in")
        (folder / ".course_build.json").write_text(_json.dumps({"fingerprint": f"{size}-build" * 4}))
    for size, n in counts.items():
        monkeypatch.setenv("COURSE_SIZE", size)
        src = hub.resolve_dataset("PolyAI/minds14", "en-AU")
        assert len(load_dataset(**src.kwargs, split="train")) == n


def test_a_plain_folder_replaced_in_place_loads_its_new_rows(offline, tmp_path):
    """``python -m course_utils.train dataset=FOLDER``: a folder rewritten with other rows loads the new rows."""
    import shutil

    from transformers import Wav2Vec2FeatureExtractor

    from course_utils.train import load_config, prepare_data

    model_dir = tmp_path / "model"
    Wav2Vec2FeatureExtractor(sampling_rate=16000).save_pretrained(model_dir)
    folder = tmp_path / "gtzan"
    keys = []
    for n in (10, 20):
        shutil.rmtree(folder, ignore_errors=True)
        features = Features({"file": Value("string"), "audio": Audio(sampling_rate=8000),
                             "genre": ClassLabel(names=["blues", "jazz"])})
        rows = ({"file": f"{i}.wav", "audio": {"array": sine(200 + i, 0.2, 8000), "sampling_rate": 8000,
                                               "path": f"{i}.wav"}, "genre": i % 2} for i in range(n))
        write_split(folder, "all", "train", rows, features)
        write_card(folder, {"all": ["train"]}, "# a folder")
        keys.append(hub.dataset_cache_dir(folder))
        assert hub.dataset_cache_dir(folder) == keys[-1]  # stable while the folder is unchanged
        cfg = load_config(overrides={"dataset": str(folder), "model": str(model_dir), "max_seconds": 1.0}, profiles=[])
        data = prepare_data(cfg, log=lambda line: None)
        assert len(data.train) + len(data.eval) == n
    assert keys[0] != keys[1]
