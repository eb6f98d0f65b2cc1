"""The gradio demo as a server (issue 8): launched on a free loopback port with a real (tiny, untrained)
audio-classification model, driven through ``gradio_client`` with good and bad files, then closed.
Also the safe-loading checks: the model the course saves is safetensors, and course_utils neither
trusts remote code nor unpickles files.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio / gradio_client are imported
if "COURSE_LOCAL_HUB" not in os.environ:  # offline without the local Hub: keep gradio_client off the network
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

import ast  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import soundfile as sf  # noqa: E402

from conftest import sine  # noqa: E402

pytestmark = pytest.mark.reliability

WAIT = 60  # seconds: the bound on every network wait
LIMIT = 200_000  # bytes: the demo's upload limit in this test
GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]


def save_tiny_ast(folder: Path) -> Path:
    """A real ASTForAudioClassification with GTZAN's labels, saved the way the course saves models."""
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    torch.manual_seed(0)
    config = ASTConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
        num_mel_bins=32, max_length=200, frequency_stride=16, time_stride=16, num_labels=len(GENRES),
        id2label=dict(enumerate(GENRES)), label2id={g: i for i, g in enumerate(GENRES)},
    )  # fmt: skip
    ASTForAudioClassification(config).save_pretrained(folder)
    ASTFeatureExtractor(num_mel_bins=32, max_length=200, sampling_rate=16000).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_ast(tmp_path_factory.mktemp("tiny_ast"))


@pytest.fixture(scope="module")
def classifier(model_dir):
    import torch
    from transformers import pipeline

    torch.set_num_threads(1)
    return pipeline("audio-classification", model=str(model_dir), device="cpu")


@pytest.fixture(scope="module")
def gtzan(tmp_path_factory):
    """Six GTZAN-schema rows at 22.05 kHz; the first one in shuffled order is corrupt."""
    from datasets import Audio, ClassLabel, Features, Value, load_dataset

    from course_offline import layout
    from course_offline.builders._writer import write_split

    folder = tmp_path_factory.mktemp("gtzan")
    features = Features({"file": Value("string"), "audio": Audio(sampling_rate=22050), "genre": ClassLabel(names=GENRES)})
    rows = []
    for i in range(6):
        name = f"{GENRES[i]}.{i:05d}.wav"
        audio = {"array": sine(220 * (i + 1), 2.0, 22050), "sampling_rate": 22050, "path": name}
        rows.append({"file": name, "audio": audio, "genre": i})
    order = list(range(6))
    random.Random(0).shuffle(order)
    rows[order[0]]["audio"] = {"bytes": b"not audio at all" * 10, "path": rows[order[0]]["file"]}
    gtzan_repo = layout.DATASETS["marsyas/gtzan"]
    write_split(folder, gtzan_repo, "all", "train", rows, features)
    # A private cache: datasets keys its cache by folder name and config, not by content.
    return load_dataset(str(folder / layout.folder_name(gtzan_repo.revision)), data_dir="all", split="train",
                        cache_dir=str(folder / "hf_cache")), order


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def outward_ip() -> str | None:
    """This machine's address on its network (no packet is sent), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("uploads")
    sf.write(d / "good.wav", sine(440, 1.5, 16000), 16000, subtype="PCM_16")
    (d / "fake.wav").write_text("a text file renamed to .wav\n" * 20)
    (d / "notes.txt").write_text("not audio\n")
    sf.write(d / "big.wav", np.zeros(LIMIT, dtype=np.float32), 16000, subtype="PCM_16")  # ~2x the limit
    return d


@pytest.fixture(scope="module")
def served(classifier, gtzan):
    from course_utils.demo import build_demo, launch_demo

    demo = build_demo(classifier, dataset=gtzan[0], label_column="genre", n_clips=3, max_file_size=LIMIT)
    port = free_port()
    url = launch_demo(demo, server_port=port)
    try:
        yield demo, url, port
    finally:
        demo.close()
    assert not accepts("127.0.0.1", port)  # closed


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served[1], verbose=False, analytics_enabled=False, httpx_kwargs={"timeout": WAIT})


def call(client, path):
    from gradio_client import handle_file

    return client.submit(handle_file(str(path)), api_name="/classify").result(timeout=WAIT)


def test_binds_loopback_only(served):
    demo, url, port = served
    assert url.startswith(f"http://127.0.0.1:{port}")
    assert accepts("127.0.0.1", port)
    ip = outward_ip()
    if ip is not None:  # not reachable from the network
        assert not accepts(ip, port)
    assert demo.share is False and demo.share_url is None


def test_listening_grid_skips_the_corrupt_clip(served, gtzan):
    import gradio as gr

    demo = served[0]
    ds, order = gtzan
    grid = [b for b in demo.blocks.values() if isinstance(b, gr.Audio) and b.interactive is False]
    # The first clip in shuffled order is corrupt: the grid holds the next three, with their genres.
    assert [b.label for b in grid] == [GENRES[i] for i in order[1:4]]


def test_good_upload_is_classified(client, classifier, files):
    from course_utils.preprocessing import classify_long

    answer = call(client, files / "good.wav")
    expected = classify_long(classifier, files / "good.wav", top_k=5)
    assert answer["label"] == expected[0]["label"]
    got = {c["label"]: c["confidence"] for c in answer["confidences"]}
    for d in expected:
        assert got[d["label"]] == pytest.approx(d["score"], abs=1e-6)


@pytest.mark.parametrize(
    "name, message",
    [
        ("fake.wav", "fake.wav: cannot be read as audio (not a decodable audio file"),
        ("notes.txt", "notes.txt: not an accepted audio type"),
        ("big.wav", f"exceeds the maximum file size of {LIMIT} bytes"),  # checked by the client
    ],
)
def test_bad_uploads_get_a_clear_message_and_the_server_keeps_serving(client, files, name, message):
    with pytest.raises(Exception) as info:
        call(client, files / name)
    assert message in str(info.value), str(info.value)
    assert call(client, files / "good.wav")["label"] in GENRES  # still serving


def test_the_server_refuses_an_oversized_upload(served, files):
    """The limit is the server's, not only the client's: a raw upload past it gets 413."""
    import httpx

    url = served[1].rstrip("/") + "/gradio_api/upload"
    with open(files / "big.wav", "rb") as f:
        r = httpx.post(url, files={"files": ("big.wav", f, "audio/wav")}, timeout=WAIT)
    assert r.status_code == 413 and f"maximum allowed size of {LIMIT} bytes" in r.text
    with open(files / "good.wav", "rb") as f:
        assert httpx.post(url, files={"files": ("good.wav", f, "audio/wav")}, timeout=WAIT).status_code == 200


def test_classify_file_checks_size_itself(classifier, files):
    """The size limit also holds when the server's own limit was not set (e.g. demo.launch())."""
    import gradio as gr

    from course_utils.demo import classify_file

    with pytest.raises(gr.Error, match="larger than the 195 KB upload limit"):
        classify_file(classifier, str(files / "big.wav"), max_file_size=LIMIT)
    with pytest.raises(gr.Error, match="No audio"):
        classify_file(classifier, None)


def test_without_a_dataset_only_the_classifier(classifier):
    import gradio as gr

    from course_utils.demo import build_demo

    demo = build_demo(classifier)
    audios = [b for b in demo.blocks.values() if isinstance(b, gr.Audio)]
    assert len(audios) == 1 and audios[0].sources == ["upload", "microphone"]
    assert any(isinstance(b, gr.Label) for b in demo.blocks.values())


def test_importing_the_demo_turns_analytics_off():
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "GRADIO_ANALYTICS_ENABLED"}
    code = "import course_utils.demo, gradio.analytics as a; print(a.analytics_enabled())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=WAIT * 2)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


# --- safe loading ----------------------------------------------------------------------------------


def test_saved_models_are_safetensors(model_dir):
    names = {p.name for p in model_dir.iterdir()}
    assert "model.safetensors" in names
    assert not any(n.endswith((".bin", ".pt", ".pth", ".pkl", ".ckpt")) for n in names), names
    from safetensors.torch import load_file

    assert any("classifier" in key for key in load_file(model_dir / "model.safetensors"))


UNSAFE_CALLS = {("torch", "load"), ("pickle", "load"), ("pickle", "loads"), ("joblib", "load"), ("dill", "load")}


def unsafe_uses(source: str) -> list[str]:
    """``trust_remote_code=True``, ``torch.load``/``pickle.load`` style calls and ``np.load(allow_pickle=True)``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        for kw in node.keywords:
            if kw.arg in ("trust_remote_code", "allow_pickle") and not (
                isinstance(kw.value, ast.Constant) and kw.value.value is False
            ):
                found.append(f"line {node.lineno}: {kw.arg}=")
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
            if (func.value.id, func.attr) in UNSAFE_CALLS:
                found.append(f"line {node.lineno}: {func.value.id}.{func.attr}")
    return found


def test_the_scan_finds_unsafe_code():
    assert len(unsafe_uses("import torch, pickle\ntorch.load('x')\npickle.loads(b)\nf(trust_remote_code=True)\n")) == 3
    assert unsafe_uses("f(trust_remote_code=False)\nnp.load('a.npy')\n") == []


def test_course_utils_loads_nothing_unsafely():
    import course_utils

    root = Path(course_utils.__file__).parent
    problems = {
        str(p.relative_to(root)): found for p in sorted(root.rglob("*.py")) if (found := unsafe_uses(p.read_text()))
    }
    assert problems == {}
