"""The lessons' route, through whichever Hub the world points at, with the real client libraries.

Offline (``make test``) that is the local Hub serving the tiny stand-ins, started by conftest.py;
online (the ``notebooks-gpu`` workflow) it is the real Hub, and the same checks test the layout
table (``course_offline.layout``) against the real repositories. Checks that compare served bytes
with the stand-in files on disk run offline only.
"""

from __future__ import annotations

import os

import pytest

from course_offline import layout, store
from course_utils import hub

OFFLINE = hub.course_mode() == "offline"
pytestmark = pytest.mark.skipif(OFFLINE and not os.environ.get("COURSE_LOCAL_HUB"),
                                reason="offline without the local Hub (run through make test)")
PARQUET = layout.PARQUET


def _api():
    from huggingface_hub import HfApi

    return HfApi()


def _folders(hub_id: str, revision: str) -> list[str]:
    from huggingface_hub import RepoFolder

    return sorted(e.path for e in _api().list_repo_tree(hub_id, repo_type="dataset", revision=revision)
                  if isinstance(e, RepoFolder))


# --- the table, checked against the Hub of this world ----------------------------------------------


@pytest.mark.parametrize("hub_id", [i for i, r in layout.DATASETS.items() if not r.standin_only or OFFLINE])
def test_the_table_matches_the_repository(hub_id):
    """Configs are folders of the table's revision (none the table calls absent); a script repo's
    main holds its loading script; the data files follow the table's pattern."""
    repo = layout.DATASETS[hub_id]
    files = [f for f in _api().list_repo_files(hub_id, repo_type="dataset", revision=repo.revision)
             if f.endswith(".parquet")]
    assert files, f"{hub_id}@{repo.revision}: no parquet files"
    if repo.file == layout.PARQUET_FILE:
        folders = _folders(hub_id, repo.revision)
        assert folders and set(folders) <= set(repo.configs), (folders, repo.configs)
        assert not set(folders) & set(repo.absent), folders
        for f in files:
            config, split, name = f.split("/")
            assert split in repo.splits and name[:4].isdigit() and name == f"{int(name[:4]):04d}.parquet", f
    else:
        assert all(f.startswith("data/") and f.split("/")[1].split("-")[0] in repo.splits for f in files), files
    if repo.script:
        assert repo.script in _api().list_repo_files(hub_id, repo_type="dataset"), f"{hub_id}: no {repo.script} on main"


@pytest.mark.parametrize("hub_id", list(layout.MODELS))
def test_each_checkpoint_has_the_tables_model_class(hub_id):
    from transformers import AutoConfig

    if layout.MODELS[hub_id].hub_id.startswith("course-standins/") and not OFFLINE:
        pytest.skip("a repository of the offline world only")
    assert AutoConfig.from_pretrained(hub_id).architectures[0] == layout.MODELS[hub_id].model_class


# --- what the lessons call --------------------------------------------------------------------------


@pytest.mark.parametrize("hub_id, config, split", [
    ("PolyAI/minds14", "en-AU", "train"), ("PolyAI/minds14", "all", "train"),
    ("google/speech_commands", "v0.02", "validation"), ("google/speech_commands", "v0.02", "test"),
    ("google/fleurs", "en_us", "test"), ("google/fleurs", "fr_fr", "train"), ("marsyas/gtzan", "all", "train"),
])
def test_each_lesson_split_loads_with_its_columns_and_label_names(hub_id, config, split):
    from datasets import ClassLabel, load_dataset

    repo = layout.DATASETS[hub_id]
    kwargs = {"streaming": True} if not OFFLINE else {}  # online: no need to download whole splits
    ds = load_dataset(hub_id, data_dir=config, revision=PARQUET, split=split, **kwargs)
    assert list(ds.features) == list(repo.columns)
    assert isinstance(ds.features[repo.labels], ClassLabel)
    assert ds.features["audio"].sampling_rate in (None, repo.sampling_rate)
    row = next(iter(ds))
    assert row["audio"]["sampling_rate"] == repo.sampling_rate


def test_esc50_and_the_human_speech_repository_load_from_main():
    from datasets import load_dataset

    esc = load_dataset("ashraq/esc50", split="train", streaming=not OFFLINE)
    assert list(esc.features) == list(layout.DATASETS["ashraq/esc50"].columns)
    if OFFLINE:
        human = load_dataset("course-standins/fleurs-human-speech", split="test")
        assert len(human) > 0 and len(set(human["language"])) > 1


def test_name_on_the_parquet_branch_fails_as_on_the_hub():
    from datasets import load_dataset

    with pytest.raises(ValueError, match="BuilderConfig 'en-AU' not found"):
        load_dataset("PolyAI/minds14", name="en-AU", revision=PARQUET, split="train", streaming=True)


def test_main_of_a_script_repository_is_refused(tmp_path):
    from datasets import load_dataset

    # A fresh datasets cache: with a cached copy, datasets falls back to it (as it does online).
    with pytest.raises(RuntimeError, match=r"Dataset scripts are no longer supported, but found minds14\.py"):
        load_dataset("PolyAI/minds14", "en-AU", split="train", cache_dir=str(tmp_path))


@pytest.mark.skipif(not OFFLINE, reason="counts the stand-in's configs")
def test_no_data_dir_silently_mixes_every_config():
    from datasets import load_dataset

    configs = store.configs_on_disk("PolyAI/minds14")
    mixed = load_dataset("PolyAI/minds14", revision=PARQUET, split="train")
    each = sum(len(load_dataset("PolyAI/minds14", data_dir=c, revision=PARQUET, split="train")) for c in configs)
    assert "all" in configs and len(mixed) == each  # every language twice: once in its folder, once in all/


def test_missing_repo_revision_and_config_are_named(tmp_path):
    from datasets import load_dataset
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    with pytest.raises(Exception) as missing_repo:
        load_dataset("PolyAI/minds15", data_dir="en-AU", revision=PARQUET, split="train", cache_dir=str(tmp_path))
    assert "PolyAI/minds15" in str(missing_repo.value)
    with pytest.raises(Exception) as missing_revision:
        load_dataset("PolyAI/minds14", data_dir="en-AU", revision="refs/convert/csv", split="train",
                     cache_dir=str(tmp_path))
    assert "refs/convert/csv" in str(missing_revision.value)
    with pytest.raises(Exception) as missing_config:
        load_dataset("PolyAI/minds14", data_dir="xx-XX", revision=PARQUET, split="train", cache_dir=str(tmp_path))
    assert "xx-XX" in str(missing_config.value) and "PolyAI/minds14" in str(missing_config.value)
    with pytest.raises(RepositoryNotFoundError):
        _api().dataset_info("PolyAI/minds15")
    with pytest.raises(RevisionNotFoundError):
        _api().dataset_info("PolyAI/minds14", revision="refs/convert/csv")


@pytest.mark.skipif(not OFFLINE, reason="compares the bytes served with the stand-in's file on disk")
def test_streaming_and_range_reads_return_the_files_bytes():
    from huggingface_hub import HfFileSystem

    path = "en-AU/train/0000.parquet"
    on_disk = (store.revision_dir("PolyAI/minds14") / path).read_bytes()
    fs = HfFileSystem()
    with fs.open(f"datasets/PolyAI/minds14@{PARQUET}/{path}", "rb", block_size=4096) as f:
        for offset, n in [(0, 4), (len(on_disk) - 8, 8), (len(on_disk) // 2, 10000), (123, 1)]:
            f.seek(offset)
            assert f.read(n) == on_disk[offset:offset + n], offset


@pytest.mark.skipif(not OFFLINE, reason="the offline world's own cache")
def test_the_offline_world_has_its_own_cache():
    from huggingface_hub import constants, hf_hub_download

    assert constants.HF_HOME == str(store.hf_home())
    path = hf_hub_download("ntu-spml/distilhubert", "config.json")
    assert path.startswith(str(store.hf_home()))
    learner = os.path.expanduser("~/.cache/huggingface")
    assert not path.startswith(learner)
