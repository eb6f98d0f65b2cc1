"""``python -m course_utils.train``: one process and two (torchrun, gloo) train the same model.

The runs use the tiny GTZAN stand-in and, as the base checkpoint, a small randomly initialised
HuBERT saved to a temporary folder (the test is about the training path, not the checkpoint, and
so does not depend on the DistilHuBERT stand-in). Dropout, LayerDrop and SpecAugment are off so
that the only difference between the runs is how each global batch is spread over processes:
one process with batch 8 against two processes with batch 4 each.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from datasets import load_dataset
from transformers import HubertConfig, HubertModel, Wav2Vec2FeatureExtractor

from course_offline.builders import run_builds
from course_offline.store import dataset_cache_dir
from course_utils.preprocessing import filter_decodable
from course_utils.train import DEFAULT_CONFIG, Data, build_model, load_config, training_arguments
from course_utils.training import mixed_precision, training_args

REPO = Path(__file__).resolve().parent.parent
NO_RANDOMNESS = [f"model_config.{k}=0" for k in (
    "hidden_dropout", "attention_dropout", "activation_dropout", "feat_proj_dropout", "final_dropout", "layerdrop")]
RUN = [
    "lr=1e-3", "num_epochs=2", "max_seconds=2", "logging_steps=3", "model_config.apply_spec_augment=false", "eval_batch_size=1",
    # Checkpoints each epoch (written by the first process), but keep the trained weights at the end.
    "save=true", "trainer_args.load_best_model_at_end=false", "trainer_args.disable_tqdm=true", *NO_RANDOMNESS,
]
# The eval split is sized so that the train split is a whole number of global batches of 8: then
# both runs see exactly the same batches and differ only in float summation order. (A short last
# batch is padded by DDP with a repeated clip, and alone moved the weights ~5 % apart.) Evaluation
# runs one clip per batch: a padded eval clip is then dropped exactly instead of shifting a batch
# mean (with 99 decodable songs the eval split cannot be even as well; 1.1e-3 apart measured).
# Measured: eval loss 7e-5 apart; encoder weights 2e-6 apart relative to how far training moved them.
GLOBAL_BATCH = 8
LOSS_TOLERANCE = 1e-3
WEIGHT_TOLERANCE = 1e-3


def _env(data: Path, cache: Path) -> dict:
    env = dict(os.environ, COURSE_MODE="offline", COURSE_SIZE="tiny", COURSE_DATA=str(data),
               HF_DATASETS_CACHE=str(cache), COURSE_THREADS="1", OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The tiny GTZAN stand-in (in $COURSE_DATA, as `make test` sets it) and a tiny random HuBERT base."""
    data = Path(os.environ.get("COURSE_DATA") or REPO / ".course_data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COURSE_DATA", str(data))
        run_builds(["gtzan"], size="tiny", log=lambda s: None)  # a no-op when `make test` built it
    # An eval split sized so that the train split, less its undecodable clips, is whole global batches.
    folder = data / "tiny" / "datasets" / "gtzan" / "refs%2Fconvert%2Fparquet"  # the stand-in's parquet branch
    rows = load_dataset(str(folder), data_dir="all", split="train", cache_dir=str(dataset_cache_dir(folder)))
    good = set(filter_decodable(rows, "audio", "file", max_seconds=1.0)["file"])
    test_size = next(t for t in range(4, 4 + GLOBAL_BATCH * 2) if sum(
        f in good for f in rows.train_test_split(test_size=t, seed=42)["train"]["file"]) % GLOBAL_BATCH == 0)
    base = tmp_path_factory.mktemp("hubert-base")
    torch.manual_seed(0)
    config = HubertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                          conv_dim=(32,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                          classifier_proj_size=32)
    HubertModel(config).save_pretrained(base)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, do_normalize=True).save_pretrained(base)
    return {"data": data, "base": base, "cache": tmp_path_factory.mktemp("hf-datasets"), "test_size": test_size}


def _train(world, out: Path, procs: int, batch: int) -> dict:
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nnodes", "1",
                "--nproc_per_node", str(procs)] if procs > 1 else [sys.executable]
    cmd = [*launcher, "-m", "course_utils.train", "--config", str(DEFAULT_CONFIG), "--output-dir", str(out),
           f"model={world['base']}", f"batch_size={batch}", f"test_size={world['test_size']}", *RUN]
    proc = subprocess.run(cmd, env=_env(world["data"], world["cache"]), cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"
    return json.loads((out / "metrics.json").read_text())


def _weights(folder: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


@pytest.mark.slow
def test_two_processes_train_the_same_model_as_one(world, tmp_path):
    one = _train(world, tmp_path / "one", procs=1, batch=8)
    two = _train(world, tmp_path / "two", procs=2, batch=4)

    assert one["world_size"] == 1 and two["world_size"] == 2
    assert one["steps"] == two["steps"] > 0
    # DDP: both ranks end with bit-identical weights.
    ranks = two["weights_sha256_by_rank"]
    assert len(ranks) == 2 and ranks[0] is not None and ranks[0] == ranks[1]
    # The tiny stand-in's corrupt clip was dropped before the split, the same way in both runs.
    assert one["train_clips"] == two["train_clips"] and one["eval_clips"] == two["eval_clips"] > 0
    assert one["train_clips"] % GLOBAL_BATCH == 0

    # Evaluation matches the one-process run within tolerance.
    assert abs(one["eval_loss"] - two["eval_loss"]) < LOSS_TOLERANCE, (one["eval_loss"], two["eval_loss"])
    assert abs(one["eval_accuracy"] - two["eval_accuracy"]) <= 1 / one["eval_clips"] + 1e-9

    # Trained weights: the runs agree much more closely than either moved away from the base.
    base, w1, w2 = _weights(world["base"]), _weights(tmp_path / "one"), _weights(tmp_path / "two")
    keys = [k for k in w1 if k.startswith("hubert.") and k[len("hubert."):] in base]
    assert len(keys) > 10
    moved = np.sqrt(sum(((w1[k] - base[k[len("hubert."):]]) ** 2).sum() for k in keys))
    apart = np.sqrt(sum(((w2[k] - w1[k]) ** 2).sum() for k in keys))
    assert moved > 0.1, f"training barely changed the weights ({moved:.4f})"
    assert apart / moved < WEIGHT_TOLERANCE, f"1 vs 2 processes: {apart:.5f} apart, moved {moved:.5f}"

    # Only the first process wrote: one metrics file, one model, per-epoch checkpoints.
    out = tmp_path / "two"
    per_epoch = {f"checkpoint-{two['steps'] * (e + 1) // 2}" for e in range(2)}
    kept = [p for p in out.glob("checkpoint-*")]
    assert len(kept) == 1 and kept[0].name in per_epoch  # save_total_limit=1 keeps the best
    assert (kept[0] / "model.safetensors").exists() and (kept[0] / "trainer_state.json").exists()
    assert [p.name for p in out.glob("*.json") if p.name.startswith("metrics")] == ["metrics.json"]


# --- configuration and hardware presets -----------------------------------------------------------


def test_config_profiles_and_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_SIZE", "tiny")
    bare = load_config(DEFAULT_CONFIG, profiles=[])
    assert (bare.num_epochs, bare.max_seconds, bare.batch_size, bare.lr, bare.split_seed, bare.test_size) == (
        10, 30.0, 8, 5e-5, 42, 0.1)  # the published recipe
    tiny = load_config(DEFAULT_CONFIG, ["lr=1e-3", "model_config.layerdrop=0"])
    assert "tiny" in tiny.applied_profiles and tiny.num_epochs == 6  # the notebook's tiny run
    assert tiny.lr == 1e-3 and tiny.model_config == {"layerdrop": 0}
    with pytest.raises(ValueError, match="epochs"):
        load_config(DEFAULT_CONFIG, ["epochs=3"])
    with pytest.raises(ValueError, match="no profile 'gpu'"):
        load_config(DEFAULT_CONFIG, profiles=["gpu"])
    broken = tmp_path / "broken.yaml"
    broken.write_text("lr: fast\n")
    with pytest.raises(ValueError, match="broken.yaml: lr='fast' is not a number"):
        load_config(broken, profiles=[])


def test_config_file_equals_the_built_in_defaults(monkeypatch, capsys):
    """An installed package has no configs/ folder and falls back to TrainConfig's defaults."""
    import course_utils.train as train

    from_file = load_config(DEFAULT_CONFIG, profiles=[])
    monkeypatch.setattr(train, "DEFAULT_CONFIG", DEFAULT_CONFIG.with_name("absent.yaml"))
    built_in = load_config(profiles=[])
    assert from_file == built_in
    # The command line too: without --config it reads the built-in defaults, so it gets as far as
    # the (bad) override instead of failing on the missing file.
    assert train.main(["--profile", "cpu", "no_such_setting=1"]) == 2
    err = capsys.readouterr().err
    assert "no_such_setting" in err and "cannot read" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the presets of a machine without CUDA")
def test_no_mixed_precision_without_cuda(tmp_path):
    """fp16 on a CPU silently runs a slow autocast: the presets must never set it there."""
    assert mixed_precision() == {}
    args = training_args(tmp_path)
    assert (args.fp16, args.bf16) == (False, False)
    args = training_arguments(load_config(DEFAULT_CONFIG), tmp_path)
    assert (args.fp16, args.bf16) == (False, False)
    assert args.eval_strategy == "epoch" and args.save_strategy == "epoch"


def test_init_random_is_the_same_model_without_the_pretrained_weights(world):
    """``init=random``: the comparison that shows what transfer learning gives."""
    labels = {0: "blues", 1: "jazz"}
    data = Data(None, None, None, None, labels, {v: k for k, v in labels.items()}, "", True)
    base = HubertModel.from_pretrained(world["base"])
    models = {init: build_model(load_config(overrides={"model": str(world["base"]), "init": init}, profiles=[]), data)
              for init in ("pretrained", "random")}
    weight = "encoder.layers.0.attention.q_proj.weight"
    assert torch.equal(models["pretrained"].hubert.state_dict()[weight], base.state_dict()[weight])
    assert not torch.allclose(models["random"].hubert.state_dict()[weight], base.state_dict()[weight])
    assert type(models["random"]) is type(models["pretrained"]) and models["random"].config.num_labels == 2
    with pytest.raises(ValueError, match="init must be 'pretrained' or 'random'"):
        build_model(load_config(overrides={"model": str(world["base"]), "init": "zeros"}, profiles=[]), data)
