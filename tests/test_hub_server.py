"""The offline Hub server, checked with the real client libraries (no mocks).

A tiny replica is written by the real libraries (parquet with ClassLabel names in the schema, a
1-layer AST checkpoint), served on a free port, and read by huggingface_hub, datasets and
transformers in one subprocess: ``HF_ENDPOINT`` is read when huggingface_hub is imported. Raw
``http.client`` requests check headers, ranges and the security rules, unnormalised.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import course_offline.server as server_module
from course_offline.server import make_server, serve
from course_offline.store import Replica

D, M, P = "PolyAI/minds14", "MIT/ast-finetuned-speech-commands-v2", "refs/convert/parquet"
PQ = "refs%2Fconvert%2Fparquet"
INTENTS = ["abroad", "address", "app_error", "atm_limit", "balance"]
LANGS = ["de-DE", "en-AU"]
ROWS = {"en-AU": 3, "de-DE": 2}
SECRET = b"TOPSECRET-outside-the-revision"
FINGERPRINTS = (b"abc0123456789fingerprint", b"model0123456789fingerprint")
OFFSETS = (0, 7, 1000, 4096)  # HfFileSystem reads at these offsets (plus the last bytes)


def _rows(lang: str, n: int) -> dict:
    def wav(i):
        buf = io.BytesIO()
        sf.write(buf, np.zeros(800 + i, np.float32), 8000, format="WAV")
        return buf.getvalue()

    return {"path": [f"{lang}/{i}.wav" for i in range(n)],
            "audio": [{"bytes": wav(i), "path": f"{i}.wav"} for i in range(n)],
            "transcription": [f"{lang} row {i}" for i in range(n)],
            "intent_class": [i % len(INTENTS) for i in range(n)], "lang_id": [LANGS.index(lang)] * n}


def _build(root: Path) -> None:
    from datasets import Audio, ClassLabel, Dataset, Features, Value
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    features = Features({"path": Value("string"), "audio": Audio(sampling_rate=8000),
                         "transcription": Value("string"), "intent_class": ClassLabel(names=INTENTS),
                         "lang_id": ClassLabel(names=LANGS)})
    ds = root / "datasets" / "minds14"
    (ds / "main").mkdir(parents=True)
    (ds / ".course_build.json").write_text(json.dumps({"fingerprint": FINGERPRINTS[0].decode()}))
    (ds / "main" / "README.md").write_text("---\nlicense: cc-by-4.0\n---\n# MINDS-14 stand-in\n")
    (ds / "main" / "minds14.py").write_text("import datasets\n")
    (ds / "main" / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")
    pq = ds / PQ
    for lang, n in ROWS.items():
        (pq / lang / "train").mkdir(parents=True)
        Dataset.from_dict(_rows(lang, n), features=features).to_parquet(str(pq / lang / "train" / "0000.parquet"))
    (pq / "all" / "train").mkdir(parents=True)
    both = {k: _rows("en-AU", 3)[k] + _rows("de-DE", 2)[k] for k in features}
    Dataset.from_dict(both, features=features).to_parquet(str(pq / "all" / "train" / "0000.parquet"))
    (pq / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n")

    model = root / "models" / "ast-speech-commands"
    labels = ["yes", "no", "up", "down"]
    config = ASTConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
                       max_length=100, num_mel_bins=32, id2label=dict(enumerate(labels)),
                       label2id={name: i for i, name in enumerate(labels)})
    ASTForAudioClassification(config).save_pretrained(model)
    ASTFeatureExtractor(max_length=100, num_mel_bins=32).save_pretrained(model)
    (model / "README.md").write_text("# AST stand-in\n")
    (model / ".course_build.json").write_text(json.dumps({"fingerprint": FINGERPRINTS[1].decode()}))

    # Bait: what a traversal, a symlink or a hidden file would leak.
    for folder in (root, root / "models", root / "datasets", ds):
        (folder / "secret.txt").write_bytes(SECRET)
    (root / "secretdir").mkdir()
    (root / "secretdir" / "secret.txt").write_bytes(SECRET)
    (model / "leak.txt").symlink_to(root / "secret.txt")
    (model / "outside").symlink_to(root / "secretdir")
    (model / "stamp.json").symlink_to(model / ".course_build.json")  # a visible name for a hidden file
    (model / ".hidden").mkdir()
    (model / ".hidden" / "x.txt").write_bytes(SECRET)
    (model / "alias.json").symlink_to(model / "config.json")  # inside, visible: served


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("replica")
    _build(root)
    server = make_server(Replica(size="tiny", root=root), 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, server
    server.shutdown()
    server.server_close()


def _request(server, method: str, path: str, headers: dict | None = None, body: bytes | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


CLIENTS = r"""
import json, os, sys
scratch, offsets, last = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
D, M, P = "PolyAI/minds14", "MIT/ast-finetuned-speech-commands-v2", "refs/convert/parquet"
out = {}

def attempt(key, fn):
    try:
        out[key] = {"ok": fn()}
    except Exception as e:
        out[key] = {"error": [c.__name__ for c in type(e).__mro__], "message": str(e)}

from datasets import load_dataset
from huggingface_hub import HfApi, HfFileSystem, hf_hub_download
# First, with its own cache: datasets falls back to any cached copy when the script is refused.
attempt("script", lambda: load_dataset(D, "en-AU", cache_dir=os.path.join(scratch, "fresh")) and None)

def one():
    d = load_dataset(D, data_dir="en-AU", revision=P, split="train")
    return {"rows": d.num_rows, "names": d.features["intent_class"].names, "text": list(d["transcription"]),
            "intent": list(d["intent_class"])}

def streamed():
    it = load_dataset(D, data_dir="en-AU", revision=P, split="train", streaming=True)
    rows = list(it)
    return {"names": it.features["intent_class"].names, "text": [r["transcription"] for r in rows]}

attempt("data_dir", one)
attempt("streaming", streamed)
attempt("name", lambda: load_dataset(D, name="en-AU", revision=P) and None)
attempt("every", lambda: {k: v.num_rows for k, v in load_dataset(D, revision=P).items()})

api = HfApi()
attempt("no_repo", lambda: hf_hub_download("PolyAI/not-a-repo", "README.md", repo_type="dataset"))
attempt("no_rev", lambda: hf_hub_download(D, "README.md", repo_type="dataset", revision="v9"))
attempt("no_file", lambda: hf_hub_download(D, "en-AU/train/9999.parquet", repo_type="dataset", revision=P))
attempt("no_rev_info", lambda: api.dataset_info(D, revision="v9") and None)
attempt("not_built", lambda: api.dataset_info("google/fleurs") and None)

def infos():
    d, m = api.dataset_info(D, revision=P), api.model_info(M)
    tree = api.list_repo_tree(D, revision=P, repo_type="dataset", recursive=True, expand=True)
    refs = api.list_repo_refs(D, repo_type="dataset")
    return {
        "sha": d.sha, "private": d.private, "siblings": sorted(s.rfilename for s in d.siblings),
        "model_siblings": sorted(s.rfilename for s in m.siblings),
        "tree": sorted([type(e).__name__, e.path, getattr(e, "size", 0), e.last_commit.oid] for e in tree),
        "branches": [(r.name, r.ref, r.target_commit) for r in refs.branches],
        "converts": [(r.name, r.ref, r.target_commit) for r in refs.converts],
        "exists": [api.file_exists(D, f, repo_type="dataset", revision=P) for f in ("all/train/0000.parquet", "no")],
        "paths": sorted([type(e).__name__, e.path] for e in api.get_paths_info(
            D, ["en-AU", "all/train/0000.parquet", "nope"], repo_type="dataset", revision=P)),
        "download": hf_hub_download(D, "de-DE/train/0000.parquet", repo_type="dataset", revision=P),
    }

attempt("api", infos)

def ranges():
    fs = HfFileSystem()
    with fs.open(f"datasets/{D}@{P.replace('/', '%2F')}/all/train/0000.parquet", "rb", block_size=64) as f:
        got = []
        for o in offsets + [last]:
            f.seek(o)
            got.append(f.read(13).hex())
        f.seek(0)
        got.append(len(f.read()))
    return got

attempt("ranges", ranges)

from transformers import AutoConfig, pipeline
import numpy as np
attempt("config", lambda: AutoConfig.from_pretrained(M).id2label)
attempt("pipeline", lambda: sorted(p["label"] for p in pipeline("audio-classification", model=M)(
    np.zeros(16000, np.float32))))
print("RESULT " + json.dumps(out))
"""


@pytest.fixture(scope="module")
def clients(world, tmp_path_factory):
    root, server = world
    size = (root / "datasets" / "minds14" / PQ / "all" / "train" / "0000.parquet").stat().st_size
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_", "TRANSFORMERS_"))}
    env.update(HF_ENDPOINT=f"http://127.0.0.1:{server.server_address[1]}",
               HF_HOME=str(tmp_path_factory.mktemp("hf_home")),
               HF_HUB_DISABLE_TELEMETRY="1", HF_DATASETS_DISABLE_PROGRESS_BARS="1", HF_HUB_DISABLE_PROGRESS_BARS="1")
    server.requests.clear()
    # Pages of 2 tree entries: the clients must follow the Link header, as on the Hub.
    page, server_module.PAGE = server_module.PAGE, 2
    try:
        args = [str(tmp_path_factory.mktemp("scratch")), json.dumps(OFFSETS), str(size - 13)]
        proc = subprocess.run([sys.executable, "-c", CLIENTS, *args], env=env, capture_output=True, text=True,
                              timeout=240)
    finally:
        server_module.PAGE = page
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, proc.stdout[-3000:] + proc.stderr[-5000:]
    return json.loads(line[len("RESULT "):]), list(server.requests)


def _ok(result: dict, key: str):
    assert "ok" in result[key], result[key]
    return result[key]["ok"]


def test_load_one_config_with_label_names(clients):
    result, _ = clients
    one = _ok(result, "data_dir")
    assert one["rows"] == 3 and one["names"] == INTENTS
    assert one["text"] == [f"en-AU row {i}" for i in range(3)] and one["intent"] == [0, 1, 2]
    streamed = _ok(result, "streaming")
    assert streamed["names"] == INTENTS and streamed["text"] == one["text"]


def test_config_names_and_scripts_behave_as_on_the_hub(clients):
    result, _ = clients
    assert "BuilderConfig 'en-AU' not found" in result["name"]["message"]
    assert _ok(result, "every") == {"train": sum(ROWS.values()) * 2}  # en-AU + de-DE + all
    assert "Dataset scripts are no longer supported" in result["script"]["message"]
    assert "minds14.py" in result["script"]["message"]


def test_missing_repo_revision_file_name_what_is_missing(clients):
    result, _ = clients
    assert "RepositoryNotFoundError" in result["no_repo"]["error"]
    assert "PolyAI/not-a-repo" in result["no_repo"]["message"]
    for key in ("no_rev", "no_rev_info"):
        assert "RevisionNotFoundError" in result[key]["error"]
        assert "'v9'" in result[key]["message"] and D in result[key]["message"]
    assert "EntryNotFoundError" in result["no_file"]["error"]
    message = result["no_file"]["message"]
    assert "en-AU/train/9999.parquet" in message and D in message and P in message
    assert "RepositoryNotFoundError" in result["not_built"]["error"]
    assert "python -m course_offline build --only fleurs --size tiny" in result["not_built"]["message"]


def test_api_answers(clients, world):
    root, _ = world
    api = _ok(clients[0], "api")
    repo = Replica(size="tiny", root=root).repo("dataset", D)
    assert api["sha"] == repo.commit(P) and api["private"] is False
    files = [".gitattributes", "all/train/0000.parquet", "de-DE/train/0000.parquet", "en-AU/train/0000.parquet"]
    assert api["siblings"] == files
    assert api["model_siblings"] == ["README.md", "alias.json", "config.json", "model.safetensors",
                                     "preprocessor_config.json"]  # no stamp, hidden folder or symlink out
    assert {p for kind, p, *_ in api["tree"] if kind == "RepoFile"} == set(files)
    assert {p for kind, p, *_ in api["tree"] if kind == "RepoFolder"} == {"all", "all/train", "de-DE", "de-DE/train",
                                                                          "en-AU", "en-AU/train"}
    assert all(oid == repo.commit(P) for *_, oid in api["tree"])
    assert api["branches"] == [["main", "refs/heads/main", repo.commit("main")]]
    assert api["converts"] == [["parquet", P, repo.commit(P)]]
    assert api["exists"] == [True, False]
    assert api["paths"] == [["RepoFile", "all/train/0000.parquet"], ["RepoFolder", "en-AU"]]
    on_disk = root / "datasets/minds14" / PQ / "de-DE/train/0000.parquet"
    assert Path(api["download"]).read_bytes() == on_disk.read_bytes()


def test_filesystem_range_reads_are_exact(clients, world):
    root, _ = world
    data = (root / "datasets/minds14" / PQ / "all/train/0000.parquet").read_bytes()
    got = _ok(clients[0], "ranges")
    assert got[:-1] == [data[o:o + 13].hex() for o in (*OFFSETS, len(data) - 13)]
    assert got[-1] == len(data)


def test_model_loads_through_the_server(clients):
    result, _ = clients
    assert _ok(result, "config") == {"0": "yes", "1": "no", "2": "up", "3": "down"}
    assert _ok(result, "pipeline") == ["down", "no", "up", "yes"]


def test_clients_only_call_known_routes(clients):
    _, requests = clients
    print("\n".join(f"{s} {c or ''} {m} {p}" for m, p, s, c in requests))  # shown with -s
    assert requests and all(status in (200, 206, 404) for _, _, status, _ in requests), requests
    # every 404 is the Hub's kind (a probe for an optional file, or a deliberate miss), none a missing route
    assert all(code for _, _, status, code in requests if status == 404), requests
    assert {m for m, *_ in requests} <= {"GET", "HEAD", "POST"}
    assert all("/paths-info/" in p for m, p, *_ in requests if m == "POST")


def test_resolve_headers_and_ranges(world):
    root, server = world
    data = (root / "datasets/minds14" / PQ / "en-AU/train/0000.parquet").read_bytes()
    commit = Replica(size="tiny", root=root).repo("dataset", D).commit(P)
    url = f"/datasets/{D}/resolve/{PQ}/en-AU/train/0000.parquet"
    status, head, body = _request(server, "HEAD", url)
    assert status == 200 and body == b""
    assert head["x-repo-commit"] == commit and head["content-length"] == str(len(data))
    assert head["accept-ranges"] == "bytes" and head["etag"].startswith('"') and head["etag"].endswith('"')
    status, got, body = _request(server, "GET", url)
    assert status == 200 and body == data and got["etag"] == head["etag"]
    raw = f"/datasets/{D}/resolve/{P}/en-AU/train/0000.parquet"  # the revision's slashes sent raw
    assert _request(server, "GET", raw)[2] == data
    assert json.loads(_request(server, "GET", f"/api/datasets/{D}/revision/{P}")[2])["sha"] == commit
    tree = json.loads(_request(server, "GET", f"/api/datasets/{D}/tree/{P}/en-AU/train")[2])
    assert [(e["type"], e["path"], e["size"]) for e in tree] == [("file", "en-AU/train/0000.parquet", len(data))]
    assert _request(server, "GET", f"/datasets/{D}/resolve/{commit}/en-AU/train/0000.parquet")[2] == data
    n = len(data)
    for spec, first, last in (("bytes=10-19", 10, 19), ("bytes=100-", 100, n - 1), ("bytes=-5", n - 5, n - 1),
                              ("bytes=0-99999999999", 0, n - 1), (f"bytes=-{n + 9}", 0, n - 1)):
        status, h, body = _request(server, "GET", url, {"Range": spec})
        assert status == 206 and body == data[first:last + 1], spec
        assert h["content-range"] == f"bytes {first}-{last}/{n}" and h["content-length"] == str(last + 1 - first)
    for spec in ("bytes=5-2", f"bytes={len(data)}-", "bytes=-0", "bytes=0-1,4-5", "items=0-1", "bytes=abc",
                 "bytes=-", "bytes=" + "9" * 40 + "-", "bytes=0-" + "9" * 5000):
        status, h, body = _request(server, "GET", url, {"Range": spec})
        assert status == 416 and h["content-range"] == f"bytes */{len(data)}", spec
    status, h, body = _request(server, "GET", f"/{M}/resolve/main/config.json")
    assert status == 200 and json.loads(body)["id2label"]["0"] == "yes"
    assert h["content-type"].startswith("application/json")


def test_errors_carry_hub_codes(world):
    _, server = world
    for path, code in (("/datasets/PolyAI/nope/resolve/main/x", "RepoNotFound"),
                       (f"/datasets/{D}/resolve/v9/README.md", "RevisionNotFound"),
                       (f"/datasets/{D}/resolve/main/missing.txt", "EntryNotFound"),
                       (f"/api/datasets/{D}/tree/main/missing", "EntryNotFound"),
                       (f"/api/models/{M}/revision/v2", "RevisionNotFound")):
        status, headers, body = _request(server, "GET", path)
        assert status == 404 and headers["x-error-code"] == code, path
        assert json.loads(body)["error"] == headers["x-error-message"]
    status, headers, _ = _request(server, "GET", f"/datasets/{D}/resolve/main/missing.txt")
    assert "'missing.txt'" in headers["x-error-message"] and "'main'" in headers["x-error-message"]
    assert headers["x-repo-commit"]  # lets huggingface_hub cache the miss
    status, headers, _ = _request(server, "GET", "/api/models/anton-l/xtreme_s_xlsr_300m_minds14")
    assert "python -m course_offline build --only xlsr-minds14 --size tiny" in headers["x-error-message"]


TRAVERSALS = [
    f"/{M}/resolve/main/../secret.txt", f"/{M}/resolve/main/..%2Fsecret.txt", f"/{M}/resolve/main/%2e%2e/secret.txt",
    f"/{M}/resolve/main/%2E%2E%2Fsecret.txt", f"/{M}/resolve/main/..%2f..%2fsecret.txt",
    f"/{M}/resolve/main/%2e%2e%2f%2e%2e%2fsecret.txt", f"/{M}/resolve/main/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
    f"/{M}/resolve/main//etc/passwd", f"/{M}/resolve/main/%2Fetc%2Fpasswd", f"/{M}/resolve/main/..\\secret.txt",
    f"/{M}/resolve/main/..%5Csecret.txt", f"/{M}/resolve/main/leak.txt", f"/{M}/resolve/main/outside/secret.txt",
    f"/{M}/resolve/main/.course_build.json", f"/{M}/resolve/main/%2Ecourse_build.json",
    f"/{M}/resolve/main/stamp.json", f"/{M}/resolve/main/.hidden/x.txt", f"/{M}/resolve/main/./config.json%00",
    f"/{M}/resolve/..%2F..%2F/secret.txt", f"/{M}/resolve/%2e%2e/secret.txt",
    "/MIT/..%2F..%2Fsecret.txt/resolve/main/x",
    f"/datasets/{D}/resolve/main/../.course_build.json", f"/datasets/{D}/resolve/main/%2e%2e%2f.course_build.json",
    f"/datasets/{D}/resolve/main/..%2F..%2F..%2Fsecret.txt", f"/datasets/{D}/resolve/{PQ}/..%2F..%2Fsecret.txt",
    f"/datasets/{D}/resolve/main/..%252F.course_build.json", f"/api/models/{M}/tree/main/..%2F",
    f"/api/models/{M}/tree/main/outside", f"/api/models/{M}/tree/main/.hidden", f"/api/datasets/{D}/tree/main/%2e%2e",
    f"/api/datasets/PolyAI/..%2F..%2F", "/api/datasets/a/b/c", f"/api/datasets/{D}/extra", "/../../etc/passwd",
    f"http://127.0.0.1/{M}/resolve/main/../secret.txt", "/datasets/../../secret.txt",
]


def test_nothing_outside_a_revision_folder_is_served(world):
    _, server = world
    for path in TRAVERSALS:
        for method in ("GET", "HEAD"):
            status, _, body = _request(server, method, path)
            assert 400 <= status < 500, (method, path, status)
            assert SECRET not in body and b"root:" not in body and not any(f in body for f in FINGERPRINTS), path
    for paths in ("../secret.txt", "..%2Fsecret.txt", "outside/secret.txt", "leak.txt", ".course_build.json",
                  "/etc/passwd", "stamp.json", ".hidden", ".hidden/x.txt"):
        status, _, body = _request(server, "POST", f"/api/models/{M}/paths-info/main",
                                   {"Content-Type": "application/x-www-form-urlencoded"},
                                   f"paths={paths}&expand=true".encode())
        assert status == 200 and json.loads(body) == [], paths
    status, _, body = _request(server, "POST", f"/api/models/{M}/paths-info/main",
                               {"Content-Type": "application/json"}, json.dumps({"paths": ["alias.json"]}).encode())
    assert [e["path"] for e in json.loads(body)] == ["alias.json"]  # a symlink that stays inside is fine
    for bad in (b"{not json", b'{"paths": 5}', b"[1, 2]"):
        status, _, _ = _request(server, "POST", f"/api/models/{M}/paths-info/main",
                                {"Content-Type": "application/json"}, bad)
        assert status == 400, bad
    status, _, body = _request(server, "GET", f"/api/models/{M}/tree/main?recursive=true")
    listed = {e["path"] for e in json.loads(body)}
    assert listed == {"README.md", "alias.json", "config.json", "model.safetensors", "preprocessor_config.json"}


def test_read_only_and_loopback_only(world):
    root, server = world
    url = f"/{M}/resolve/main/config.json"
    before = (root / "models/ast-speech-commands/config.json").read_bytes()
    for method, path in (("PUT", url), ("DELETE", url), ("PATCH", url), ("POST", url), ("FOO", url),
                         ("POST", f"/api/models/{M}"), ("POST", f"/api/models/{M}/commit/main"),
                         ("DELETE", f"/api/models/{M}"), ("POST", "/api/course-replica")):
        status, headers, _ = _request(server, method, path, body=b"{}")
        assert status == 405, (method, path, status)
    assert (root / "models/ast-speech-commands/config.json").read_bytes() == before
    with pytest.raises(ValueError):
        make_server(Replica(size="tiny", root=root), 0, host="0.0.0.0")
    assert server.server_address[0] == "127.0.0.1"


def test_replica_route_and_quiet_log(world, capfd):
    root, server = world
    status, _, body = _request(server, "GET", "/api/course-replica")
    assert status == 200 and json.loads(body) == {"root": str(root), "size": "tiny", "pid": os.getpid(), "version": 1}
    _request(server, "GET", f"/datasets/{D}/resolve/main/nope")
    assert capfd.readouterr().err == ""  # no per-request lines unless COURSE_HUB_VERBOSE


def test_commit_follows_the_build_fingerprint(world):
    root, server = world
    stamp = root / "datasets/minds14/.course_build.json"
    saved = stamp.read_text()
    url = f"/datasets/{D}/resolve/main/README.md"
    try:
        before = _request(server, "HEAD", url)[1]
        sha = json.loads(_request(server, "GET", f"/api/datasets/{D}")[2])["sha"]
        assert before["x-repo-commit"] == sha and _request(server, "HEAD", url)[1]["etag"] == before["etag"]
        stamp.write_text(json.dumps({"fingerprint": "rebuilt"}))
        after = _request(server, "HEAD", url)[1]
        assert after["x-repo-commit"] != before["x-repo-commit"] and after["etag"] != before["etag"]
        assert json.loads(_request(server, "GET", f"/api/datasets/{D}")[2])["sha"] == after["x-repo-commit"]
    finally:
        stamp.write_text(saved)


def test_tree_pages_follow_the_link_header(world, monkeypatch):
    _, server = world
    url = f"/api/datasets/{D}/tree/{PQ}?recursive=true&expand=true"
    whole = json.loads(_request(server, "GET", url)[2])
    monkeypatch.setattr(server_module, "PAGE", 4)
    pages, next_url = [], url
    while next_url:
        _, headers, body = _request(server, "GET", next_url)
        pages.append(json.loads(body))
        link = headers.get("link", "")
        next_url = link[link.index("/api/"):link.index(">")] if link else None
    assert [len(p) for p in pages] == [4, 4, 2] and sum(pages, []) == whole


def test_malformed_requests_get_4xx(world):
    _, server = world
    for raw in (b"\x00\x01garbage\r\n\r\n", b"GET /x HTTP/9.9\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                b"BREW /pot HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"):
        with socket.create_connection(server.server_address, timeout=10) as conn:
            conn.sendall(raw)
            reply = b"".join(iter(lambda: conn.recv(65536), b""))  # each of these closes the connection
        # a one-word line is answered the HTTP/0.9 way by http.server: an error page, no status line
        status = re.search(rb"^HTTP/1\.[01] (\d{3})|Error code: (\d{3})", reply)
        assert status and 400 <= int(status.group(1) or status.group(2)) < 600, (raw[:40], reply[:200])
    assert _request(server, "GET", "/api/course-replica")[0] == 200  # still serving


def test_serve_exits_when_idle(world):
    root, _ = world
    thread = threading.Thread(target=serve, args=(Replica(size="tiny", root=root), 0), kwargs={"idle_exit_s": 0.3})
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive()
