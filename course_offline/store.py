"""Where built stand-ins live, and how they map to Hub repositories and revisions.

A stand-in is built into ``$COURSE_DATA/<size>/<kind>s/<builder>/``. A dataset's folder holds one
folder per revision (``main/``, ``refs%2Fconvert%2Fparquet/``) laid out as ``layout`` says the real
repository is; a model's folder is its ``main``. ``Replica`` is what the local Hub server serves:
Hub id + revision -> folder, and a commit id that changes whenever the stand-in is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from course_utils.hub import course_size, data_dir

from . import layout

STAMP = ".course_build.json"


def standin_dir(kind: str, builder: str, size: str | None = None) -> Path:
    """Folder of a built stand-in: ``$COURSE_DATA/<size>/<kind>s/<builder>``."""
    if kind not in ("dataset", "model"):
        raise ValueError(f"kind must be 'dataset' or 'model', not {kind!r}")
    return data_dir() / (size or course_size()) / f"{kind}s" / builder


def hf_home(size: str | None = None) -> Path:
    """The Hugging Face cache of the offline world: never the learner's own, so a stand-in can
    never be picked up later as the real checkpoint."""
    return data_dir() / (size or course_size()) / "hf_home"


def dataset_cache_dir(folder: str | os.PathLike) -> Path:
    """A ``datasets`` cache folder for one local dataset folder and its current contents.

    ``datasets`` keys its cache of a local folder on the folder's name and file layout, not on
    its contents: the tiny and course builds of one stand-in (or a folder rebuilt or replaced)
    would share a cache, and the second would silently load the first one's rows. A built
    stand-in is told apart by its build fingerprint; any other folder by its files' paths, sizes
    and modification times.
    """
    folder = Path(folder).expanduser().resolve()
    for candidate in (folder, folder.parent):  # a stand-in, or one revision folder inside it
        try:
            key = json.loads((candidate / STAMP).read_text())["fingerprint"][:16]
            return candidate.parent.parent / ".hf_cache" / f"{candidate.name}-{folder.name}-{key}"
        except (OSError, ValueError, KeyError):
            continue
    h = hashlib.sha256(str(folder).encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        h.update(f"{path.relative_to(folder)}|{st.st_size}|{st.st_mtime_ns}".encode())
    return data_dir() / ".hf_cache" / f"{folder.name}-{h.hexdigest()[:16]}"


def revision_dir(hub_id: str, revision: str | None = None, size: str | None = None) -> Path:
    """The folder that holds a dataset stand-in's files at ``revision`` (default: where the data is)."""
    repo = layout.dataset(hub_id)
    return standin_dir("dataset", repo.builder, size) / repo.subdir / layout.folder_name(revision or repo.revision)


def load_standin(hub_id: str, config: str | None, split: str, size: str | None = None, **kwargs):
    """A split of a built stand-in, read from its folder (the builders' way: no server needed)."""
    from datasets import load_dataset

    repo = layout.dataset(hub_id)
    folder = revision_dir(hub_id, size=size)
    if not folder.is_dir():
        raise FileNotFoundError(f"the {repo.builder!r} stand-in ({size or course_size()}) is not built: "
                                f"{folder} is missing")
    if repo.file == layout.PARQUET_FILE:
        kwargs["data_dir"] = config
    return load_dataset(str(folder), split=split, cache_dir=str(dataset_cache_dir(folder)), **kwargs)


def configs_on_disk(hub_id: str, size: str | None = None) -> list[str]:
    """The configs a parquet-branch stand-in holds (its folders), sorted."""
    folder = revision_dir(hub_id, size=size)
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass(frozen=True)
class Repo:
    """One repository of the replica: its revisions' folders and its commit ids."""

    repo_type: str  # "dataset" or "model"
    repo_id: str
    revisions: dict[str, Path]
    fingerprint: str

    def commit(self, revision: str) -> str:
        """A 40-hex commit id; it changes when the stand-in is rebuilt with other content."""
        return hashlib.sha1(f"{self.repo_type}/{self.repo_id}@{revision}:{self.fingerprint}".encode()).hexdigest()

    def find_revision(self, revision: str) -> str | None:
        """A branch name, or one of this repo's commit ids, to the branch name."""
        if revision in self.revisions:
            return revision
        return next((r for r in self.revisions if self.commit(r) == revision), None)


class Replica:
    """The stand-ins of one size, as Hub repositories under the real ids (read from ``layout``)."""

    def __init__(self, size: str | None = None, root: Path | None = None):
        self.size = size or course_size()
        self.root = Path(root) if root else data_dir() / self.size

    def _folder(self, kind: str, builder: str) -> Path:
        return self.root / f"{kind}s" / builder

    def repo(self, repo_type: str, repo_id: str) -> Repo | None:
        if repo_type == "dataset" and repo_id in layout.DATASETS:
            spec = layout.DATASETS[repo_id]
            folder = self._folder("dataset", spec.builder)
            base = folder / spec.subdir
            revisions = {}
            for revision in (layout.MAIN, spec.revision):
                if (base / layout.folder_name(revision)).is_dir():
                    revisions[revision] = base / layout.folder_name(revision)
        elif repo_type == "model" and repo_id in layout.MODELS:
            folder = self._folder("model", layout.MODELS[repo_id].builder)
            revisions = {layout.MAIN: folder} if folder.is_dir() else {}
        else:
            return None
        if not revisions:
            return None
        return Repo(repo_type, repo_id, revisions, _fingerprint(folder))

    def missing(self) -> list[str]:
        """The real ids whose stand-in is not built at this size."""
        out = [f"dataset {i}" for i in layout.DATASETS if self.repo("dataset", i) is None]
        return out + [f"model {i}" for i in layout.MODELS if self.repo("model", i) is None]

    def builder_of(self, repo_type: str, repo_id: str) -> str | None:
        table = layout.DATASETS if repo_type == "dataset" else layout.MODELS
        spec = table.get(repo_id)
        return spec.builder if spec else None


def _fingerprint(folder: Path) -> str:
    try:
        return json.loads((folder / STAMP).read_text())["fingerprint"]
    except (OSError, ValueError, KeyError):
        st = folder.stat()
        return f"unstamped:{st.st_mtime_ns}"
