"""The switch between the Hugging Face Hub and the offline stand-ins.

``COURSE_MODE`` is ``hub``, ``offline`` or ``auto`` (default). ``HF_HUB_OFFLINE=1`` means offline.
``auto`` probes the Hub once per process with a short timeout. Online, the resolvers return the real
Hub ids; offline, the folders of locally built stand-ins under ``$COURSE_DATA/<size>/``. Every
fallback to a stand-in is announced once, so nobody mistakes it for the real thing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DATASETS",
    "MODELS",
    "DatasetSource",
    "StandInNotBuilt",
    "course_mode",
    "course_size",
    "data_dir",
    "standin_dir",
    "hub_reachable",
    "resolve_dataset",
    "resolve_model",
    "describe_world",
]

MODES = ("hub", "offline", "auto")
SIZES = ("tiny", "course")


@dataclass(frozen=True)
class DatasetSpec:
    """A Hub dataset the course uses and the builder of its offline stand-in."""

    hub_id: str
    builder: str
    # Script-based repositories: current `datasets` refuses their loading script, so online we
    # read the Hub's automatic parquet conversion instead.
    revision: str | None = None
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """A Hub checkpoint the course uses and the builder of its offline stand-in."""

    hub_id: str
    builder: str


PARQUET = "refs/convert/parquet"
DATASETS = {
    spec.hub_id: spec
    for spec in [
        DatasetSpec("PolyAI/minds14", "minds14", revision=PARQUET),
        DatasetSpec("google/speech_commands", "speech_commands", revision=PARQUET, aliases=("speech_commands",)),
        DatasetSpec("google/fleurs", "fleurs", revision=PARQUET),
        DatasetSpec("ashraq/esc50", "esc50"),
        DatasetSpec("marsyas/gtzan", "gtzan", revision=PARQUET),
    ]
}
MODELS = {
    spec.hub_id: spec
    for spec in [
        ModelSpec("anton-l/xtreme_s_xlsr_300m_minds14", "xlsr-minds14"),
        ModelSpec("MIT/ast-finetuned-speech-commands-v2", "ast-speech-commands"),
        ModelSpec("sanchit-gandhi/whisper-medium-fleurs-lang-id", "whisper-fleurs-lang-id"),
        ModelSpec("laion/clap-htsat-unfused", "clap-htsat-unfused"),
        ModelSpec("ntu-spml/distilhubert", "distilhubert"),
    ]
}


class StandInNotBuilt(FileNotFoundError):
    """Offline, and the stand-in for a Hub id has not been built yet."""


# --- settings, read from the environment each call (no hidden globals) --------------------------


def course_size() -> str:
    """``COURSE_SIZE``: ``course`` (default, for learners) or ``tiny`` (tests and CI)."""
    size = os.environ.get("COURSE_SIZE", "course").strip().lower()
    if size not in SIZES:
        raise ValueError(f"COURSE_SIZE={size!r}: expected one of {SIZES}")
    return size


def data_dir() -> Path:
    """``$COURSE_DATA``, default ``~/.cache/audio-course``: where offline assets live."""
    root = os.environ.get("COURSE_DATA")
    if root:
        return Path(root).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "audio-course"


def standin_dir(kind: str, builder: str, size: str | None = None) -> Path:
    """Folder of a built stand-in: ``$COURSE_DATA/<size>/<kind>s/<builder>``."""
    if kind not in ("dataset", "model"):
        raise ValueError(f"kind must be 'dataset' or 'model', not {kind!r}")
    return data_dir() / (size or course_size()) / f"{kind}s" / builder


@functools.lru_cache(maxsize=None)
def hub_reachable(timeout: float | None = None) -> bool:
    """One short request to the Hub; the answer is cached for the life of the process."""
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")
    timeout = float(timeout or os.environ.get("COURSE_PROBE_TIMEOUT", 3))
    try:
        with urllib.request.urlopen(f"{endpoint}/api/models?limit=1", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def course_mode() -> str:
    """``"hub"`` or ``"offline"``, from ``COURSE_MODE`` / ``HF_HUB_OFFLINE`` / a probe of the Hub."""
    mode = os.environ.get("COURSE_MODE", "auto").strip().lower()
    if mode not in MODES:
        raise ValueError(f"COURSE_MODE={mode!r}: expected one of {MODES}")
    if _truthy(os.environ.get("HF_HUB_OFFLINE")):
        mode = "offline"
    elif mode == "auto":
        mode = "hub" if hub_reachable() else "offline"
    if mode == "offline":
        # Libraries imported after this point never wait on a network timeout.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
        os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    return mode


def describe_world() -> str:
    """One line for a notebook's first cell: which world are we in?"""
    if course_mode() == "hub":
        return "Mode: hub - real checkpoints and datasets from the Hugging Face Hub."
    return (
        f"Mode: offline - local stand-ins (size '{course_size()}', under {data_dir()}); "
        "they are synthesised and trained on this machine, not the real Hub assets."
    )


# --- resolvers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSource:
    """Where to load a dataset from; ``load_dataset(**source.kwargs, split=...)`` works in both worlds."""

    hub_id: str
    path: str
    name: str | None = None
    revision: str | None = None
    standin: bool = False
    cache_dir: str | None = None

    @property
    def kwargs(self) -> dict:
        out = {"path": self.path}
        for key in ("name", "revision", "cache_dir"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out

    def __str__(self) -> str:
        return self.path


_announced: set[tuple[str, str | None]] = set()


def _announce(hub_id: str, config: str | None, folder: Path, what: str) -> None:
    key = (hub_id, config)
    if key in _announced:
        return
    _announced.add(key)
    shown = f"{hub_id} ({config})" if config else hub_id
    print(f"[offline stand-in] {shown} -> {folder}\n  a locally built {what}, NOT the real Hub {what}.")


def _dataset_spec(hub_id: str) -> DatasetSpec | None:
    for spec in DATASETS.values():
        if hub_id == spec.hub_id or hub_id in spec.aliases:
            return spec
    return None


def resolve_dataset(hub_id: str, config: str | None = None) -> DatasetSource:
    """Online: the Hub id (with the parquet conversion where the repo is script-based).
    Offline: the stand-in folder, which ``load_dataset(folder, config, split=...)`` reads with the
    Hub dataset's columns, feature types and label names."""
    spec = _dataset_spec(hub_id)
    if course_mode() == "hub":
        if spec is None:
            return DatasetSource(hub_id, hub_id, config)
        return DatasetSource(spec.hub_id, spec.hub_id, config, spec.revision)
    if spec is None:
        known = ", ".join(sorted(DATASETS))
        raise StandInNotBuilt(f"{hub_id}: offline, and the course has no stand-in for it (stand-ins exist for {known})")
    folder = _built(standin_dir("dataset", spec.builder), hub_id, spec.builder)
    _announce(spec.hub_id, config, folder, "dataset")
    return DatasetSource(spec.hub_id, str(folder), config, None, standin=True, cache_dir=str(dataset_cache_dir(folder)))


def resolve_model(hub_id: str) -> str:
    """Online: the Hub id. Offline: the stand-in folder, for ``pipeline(model=...)``/``from_pretrained``."""
    if course_mode() == "hub":
        return hub_id
    spec = MODELS.get(hub_id)
    if spec is None:
        known = ", ".join(sorted(MODELS))
        raise StandInNotBuilt(f"{hub_id}: offline, and the course has no stand-in for it (stand-ins exist for {known})")
    folder = _built(standin_dir("model", spec.builder), hub_id, spec.builder)
    _announce(hub_id, None, folder, "model")
    return str(folder)


def dataset_cache_dir(folder: str | os.PathLike) -> Path:
    """A ``datasets`` cache folder for one local dataset folder and its current contents.

    ``datasets`` keys its cache of a local folder on the folder's name and file layout, not on
    its contents: the tiny and course builds of one stand-in (or a folder rebuilt or replaced)
    would share a cache, and the second would silently load the first one's rows. A built
    stand-in is told apart by its build fingerprint; any other folder by its files' paths, sizes
    and modification times.
    """
    folder = Path(folder).expanduser().resolve()
    try:
        key = json.loads((folder / ".course_build.json").read_text())["fingerprint"][:16]
        root = folder.parent.parent
    except (OSError, ValueError, KeyError):
        h = hashlib.sha256(str(folder).encode())
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            st = path.stat()
            h.update(f"{path.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}".encode())
        key, root = h.hexdigest()[:16], data_dir()
    return root / ".hf_cache" / f"{folder.name}-{key}"


def _built(folder: Path, hub_id: str, builder: str) -> Path:
    # A folder only appears once its build finished (builds are renamed into place).
    if not folder.is_dir():
        raise StandInNotBuilt(
            f"{hub_id}: offline, and its stand-in is not built yet ({folder} is missing).\n"
            f"Build it with:  COURSE_SIZE={course_size()} python -m course_utils build --only {builder}\n"
            "(or `make course`, which builds every stand-in)."
        )
    return folder
