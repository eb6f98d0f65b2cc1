"""Notebook 05 and ``python -m course_utils.train`` fine-tune the same model with the same arguments.

The lesson shows its ``TrainingArguments(...)`` and ``from_pretrained(...)`` calls in cells; the script
builds them with ``course_utils.train`` (``prepare_data``, ``build_model``, ``training_arguments``).
Both read ``configs/gtzan_finetune.yaml`` through ``load_config``. Here the notebook's cells run from
their source in ``scripts/lessons/lesson05.py`` (the notebook is generated from it, which
``test_notebooks_match_their_generator`` checks), in one namespace, as in a kernel; the script's
functions run beside them, and the results are compared.

Offline (``make test``) through the local Hub of tiny stand-ins, which conftest.py starts; online
against the real Hub (the real DistilHuBERT and GTZAN, as notebook 05 downloads them).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import course_utils
from course_utils import hub

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from lessons import lesson05  # noqa: E402  (the notebook's cells)

OFFLINE = hub.course_mode() == "offline"
pytestmark = pytest.mark.skipif(OFFLINE and not os.environ.get("COURSE_LOCAL_HUB"),
                                reason="offline without the local Hub (run through make test)")

CHECK = "# NBVAL_CHECK_OUTPUT"
# The TrainingArguments fields a learner changes: each must be the script's.
FIELDS_THAT_MATTER = (
    "output_dir", "eval_strategy", "save_strategy", "save_total_limit", "load_best_model_at_end",
    "metric_for_best_model", "learning_rate", "per_device_train_batch_size", "per_device_eval_batch_size",
    "gradient_accumulation_steps", "num_train_epochs", "warmup_steps", "weight_decay", "lr_scheduler_type",
    "dataloader_multiprocessing_context",
    "logging_strategy", "logging_steps", "seed", "data_seed", "bf16", "fp16", "use_cpu", "dataloader_num_workers",
    "dataloader_pin_memory", "remove_unused_columns", "report_to",
)
# Fields of TrainingArguments.to_dict() where the two may differ, with the reason. Only one: the
# notebook's cell spells out every other field the script's presets set, and leaves the rest at their defaults.
MAY_DIFFER: dict[str, str] = {
    # Online on a CPU the lesson trains the steps that fit 10 minutes (course_utils.sizing.plan_training);
    # the script trains what its config says. Offline (make test) both train every step.
    "max_steps": "the lesson's 10-minute budget on a CPU with the real checkpoint",
}


def code_sources() -> list[str]:
    return ["".join(c["source"]) for c in lesson05.CELLS if c["cell_type"] == "code"]


def cell(*needles: str) -> str:
    """The one code cell of the lesson that contains every needle."""
    found = [s for s in code_sources() if all(n in s for n in needles)]
    assert len(found) == 1, f"{len(found)} cells of lesson 5 contain {needles}"
    return found[0]


@pytest.fixture(scope="module")
def notebook():
    """The namespace of a kernel that ran the lesson's cells up to the training arguments."""
    ns = {"course_utils": course_utils, "OFFLINE": OFFLINE, "SIZE": course_utils.course_size()}
    cells = [
        cell('load_dataset("marsyas/gtzan"'),
        cell("train_test_split(seed=42"),
        cell(CHECK, "id2label_fn ="),
        cell('model_id = "ntu-spml/distilhubert"'),
        cell(CHECK, "label2id ="),
        cell("cfg = course_utils.train.load_config()"),
        cell("output_loading_info=True"),
        cell("TrainingArguments("),
    ]
    for source in cells:
        exec(compile(source, "<lesson05 cell>", "exec"), ns)
    return ns


@pytest.fixture(scope="module")
def script(notebook):
    """What ``python -m course_utils.train`` builds from the same config."""
    from course_utils import train

    cfg = notebook["cfg"]
    data = train.prepare_data(cfg, log=lambda *_: None)
    return {"cfg": cfg, "data": data, "model": train.build_model(cfg, data)}


def test_the_notebook_reads_the_scripts_config(notebook):
    from course_utils import train

    assert notebook["cfg"] == train.load_config()
    assert notebook["model_id"] == train.model_path(notebook["cfg"])


def test_same_model_class_config_labels_and_weights(notebook, script):
    from course_utils.train import weights_hash

    mine, theirs = notebook["model"], script["model"]
    assert type(mine) is type(theirs), (type(mine).__name__, type(theirs).__name__)
    assert mine.config.to_dict() == theirs.config.to_dict()
    assert mine.config.num_labels == theirs.config.num_labels == 10
    genres = [g.strip() for g in lesson05.GENRES.split(",")]
    assert [mine.config.id2label[i] for i in range(10)] == [theirs.config.id2label[i] for i in range(10)] == genres
    assert mine.config.label2id == theirs.config.label2id == script["data"].label2id
    shapes = {name: tuple(p.shape) for name, p in mine.named_parameters()}
    assert shapes == {name: tuple(p.shape) for name, p in theirs.named_parameters()}
    # Both seed with cfg.seed before loading: the new head starts from the same random weights.
    assert weights_hash(mine) == weights_hash(theirs)


def test_the_new_head_is_what_loading_reports_missing(notebook):
    missing = set(notebook["loading_info"]["missing_keys"])
    assert missing == {"projector.weight", "projector.bias", "classifier.weight", "classifier.bias"}, missing


@pytest.mark.parametrize("profiles", [None, []], ids=["profiles-of-this-machine", "published-recipe"])
def test_same_training_arguments(notebook, profiles):
    """The notebook's TrainingArguments cell, run with the config, equals the script's, field by field."""
    from course_utils import train

    cfg = train.load_config(profiles=profiles)
    ns = dict(notebook, cfg=cfg)
    exec(compile(cell("TrainingArguments("), "<lesson05 cell>", "exec"), ns)
    mine = ns["training_args"].to_dict()
    theirs = train.training_arguments(cfg, ns["output_dir"]).to_dict()
    assert set(mine) == set(theirs)
    for field in FIELDS_THAT_MATTER:
        assert field in mine, f"TrainingArguments has no field {field!r}"
        assert mine[field] == theirs[field], f"{field}: notebook {mine[field]!r}, script {theirs[field]!r}"
    differ = {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k] and k not in MAY_DIFFER}
    assert not differ, f"notebook vs script: {differ}"
    # The values are the config's (the published recipe where no profile applies).
    assert mine["num_train_epochs"] == cfg.num_epochs and mine["learning_rate"] == cfg.lr
    assert mine["per_device_train_batch_size"] == cfg.batch_size and mine["warmup_steps"] == cfg.warmup
    assert mine["eval_strategy"] == "epoch" and mine["remove_unused_columns"] is False
    if profiles == []:
        assert (cfg.num_epochs, cfg.lr, cfg.batch_size, cfg.warmup, cfg.max_seconds) == (10, 5e-5, 8, 0.1, 30.0)
