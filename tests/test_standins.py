"""The five offline stand-in checkpoints (issue 5), built at tiny size from the tiny corpora.

Each must load the way the notebooks load the real checkpoint (``pipeline(...)`` /
``from_pretrained``), from safetensors only, with the real checkpoint's class and label names,
the matching processor, and a model card that says what it is and how well it did.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow

MODELS = ["ast-speech-commands", "xlsr-minds14", "whisper-fleurs-lang-id", "clap-htsat-unfused", "distilhubert"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Tiny stand-ins (and the corpora they need) under $COURSE_DATA, or a fresh folder."""
    from course_offline.builders import run_builds

    root = os.environ.get("COURSE_DATA") or str(tmp_path_factory.mktemp("course-data"))
    old = os.environ.get("COURSE_DATA")
    os.environ["COURSE_DATA"] = root
    try:
        run_builds(MODELS, size="tiny")
        yield {name: Path(root) / "tiny" / "models" / name for name in MODELS}
    finally:
        if old is None:
            os.environ.pop("COURSE_DATA", None)
        else:
            os.environ["COURSE_DATA"] = old


def _card(folder: Path, hub_id: str) -> tuple[str, dict]:
    card = (folder / "README.md").read_text()
    results = json.loads((folder / "standin_results.json").read_text())
    assert f"stand-in for `{hub_id}`" in card
    assert f"This is NOT `{hub_id}`" in card
    assert f"{results['params']:,} parameters" in card
    assert "| seed | 0 |" in card and "train_cpu_seconds" in card
    assert "## Results on held-out data" in card
    return card, results


def _safetensors_only(folder: Path) -> None:
    assert (folder / "model.safetensors").exists()
    assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))


def _tiny_split(builder, config, split):
    from course_offline.builders.model_common import load_split

    return load_split(builder, config, split, "tiny")


def test_ast_pipeline_real_labels(built):
    from transformers import ASTForAudioClassification, pipeline

    from course_offline.builders.model_ast import LABELS

    folder = built["ast-speech-commands"]
    _safetensors_only(folder)
    clf = pipeline("audio-classification", model=str(folder))
    assert isinstance(clf.model, ASTForAudioClassification)
    # The real checkpoint's 35 labels, in its order; no _silence_ class.
    assert [clf.model.config.id2label[i] for i in range(35)] == LABELS
    assert LABELS[:3] == ["backward", "follow", "five"] and "_silence_" not in LABELS
    card, results = _card(folder, "MIT/ast-finetuned-speech-commands-v2")
    acc = results["results"]["test top-1, 35 words (real checkpoint's labels)"]
    assert f"{acc:.3f}" in card

    # The pipeline reproduces the card's figure on the held-out test split. (Tiny has 4 clips
    # per word: too few to learn from, so no claim about chance here; CLAP's test makes one.)
    test = _tiny_split("speech_commands", "v0.02", "test")
    names = test.features["label"].names
    hits, n = 0, 0
    for row in test:
        word = names[row["label"]]
        if word == "_silence_":
            continue
        top = clf({"raw": row["audio"]["array"], "sampling_rate": row["audio"]["sampling_rate"]}, top_k=1)[0]
        hits += top["label"] == word
        n += 1
    assert abs(hits / n - acc) < 1e-6


def test_ast_same_seed_same_weights(built, tmp_path):
    """Same seed -> byte-identical weights (rebuilt from the same tiny corpus)."""
    from course_offline.builders import model_ast

    out = tmp_path / "again"
    out.mkdir()
    model_ast.build(out, size="tiny", seed=0, log=lambda *_: None)
    assert (out / "model.safetensors").read_bytes() == (built["ast-speech-commands"] / "model.safetensors").read_bytes()


def test_wav2vec2_minds14(built):
    from transformers import AutoFeatureExtractor, AutoModelForAudioClassification, Wav2Vec2ForSequenceClassification

    folder = built["xlsr-minds14"]
    _safetensors_only(folder)
    model = AutoModelForAudioClassification.from_pretrained(folder)
    assert isinstance(model, Wav2Vec2ForSequenceClassification)
    intents = _tiny_split("minds14", "en-US", "train").features["intent_class"].names
    assert [model.config.id2label[i] for i in range(14)] == intents
    fe = AutoFeatureExtractor.from_pretrained(folder)
    assert fe.sampling_rate == 16000
    _card(folder, "anton-l/xtreme_s_xlsr_300m_minds14")
    card = (folder / "README.md").read_text()
    assert "fold 4" in card  # which voices were held out


def test_whisper_language_names(built):
    from transformers import WhisperForAudioClassification, pipeline

    folder = built["whisper-fleurs-lang-id"]
    _safetensors_only(folder)
    clf = pipeline("audio-classification", model=str(folder))
    assert isinstance(clf.model, WhisperForAudioClassification)
    labels = [clf.model.config.id2label[i] for i in range(clf.model.config.num_labels)]
    assert len(labels) == 102
    assert labels[:3] == ["Afrikaans", "Amharic", "Arabic"] and labels[-1] == "Zulu"
    assert labels[12:14] == ["Sorani-Kurdish", "Mandarin Chinese"]
    from course_offline.builders.model_common import load_configs

    test = load_configs("fleurs", "test", "tiny")  # every language: FLEURS has no `all` folder on its branch
    assert set(test["language"]) <= set(labels)
    row = test[0]
    out = clf({"raw": row["audio"]["array"], "sampling_rate": row["audio"]["sampling_rate"]}, top_k=3)
    assert len(out) == 3 and all(o["label"] in labels for o in out)
    card, results = _card(folder, "sanchit-gandhi/whisper-medium-fleurs-lang-id")
    assert "human speech" in card


@pytest.mark.parametrize("size", ["tiny", "course"])
def test_whisper_position_embeddings_survive_a_reload(tmp_path, size):
    """The course stand-in is saved with its position embeddings zeroed (``POSITIONS``); a
    transformers that re-made the sinusoids on load would silently change its predictions."""
    import torch
    from transformers import WhisperFeatureExtractor, WhisperForAudioClassification

    from course_offline.builders import model_whisper as W

    torch.manual_seed(0)
    model = W.new_model(WhisperFeatureExtractor(sampling_rate=W.SR, **W.FRONT), size).eval()
    table = model.encoder.embed_positions.weight
    assert table.abs().max().item() == (0.0 if W.POSITIONS[size] == 0 else pytest.approx(1.0, abs=1e-6))
    model.save_pretrained(tmp_path)
    again = WhisperForAudioClassification.from_pretrained(tmp_path).eval()
    assert torch.equal(again.encoder.embed_positions.weight, table)
    features = torch.randn(2, W.FRONT["feature_size"], 2 * model.config.max_source_positions)
    with torch.no_grad():
        assert torch.equal(again(features).logits, model(features).logits)


def test_whisper_short_crop_twin_trains_the_model_itself():
    """At the course size the Whisper stand-in trains on 2-s crops as a twin with fewer source
    positions (``source_positions``): a step taken inside must change the 4-s model's own weights,
    and the model must come back with its own position table and input length."""
    import torch
    from transformers import WhisperFeatureExtractor

    from course_offline.builders import model_whisper as W

    assert W.TRAIN_CHUNK["course"] < W.FRONT["chunk_length"] and W.POSITIONS["course"] == 0
    torch.manual_seed(0)
    extractor = WhisperFeatureExtractor(sampling_rate=W.SR, **W.FRONT)
    model = W.new_model(extractor, "course")
    table, full = model.encoder.embed_positions, model.config.max_source_positions
    long_input = torch.randn(2, W.FRONT["feature_size"], 2 * full)
    model.eval()
    with torch.no_grad():
        before = model(long_input).logits
    short = W.TRAIN_CHUNK["course"] * full // W.FRONT["chunk_length"]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with W.source_positions(model, short):
        with pytest.raises(ValueError):  # the 4-s input no longer fits the twin
            model(long_input)
        model.train()
        loss = model(torch.randn(4, W.FRONT["feature_size"], 2 * short), labels=torch.tensor([0, 1, 2, 3])).loss
        loss.backward()
        optimizer.step()
    model.eval()
    assert model.encoder.embed_positions is table and model.config.max_source_positions == full
    assert table.weight.abs().max().item() == 0.0
    with torch.no_grad():
        after = model(long_input).logits
    assert after.shape == before.shape and not torch.allclose(after, before)
    # a model with position embeddings cannot be trained so: the positions would not line up
    with pytest.raises(ValueError, match="position embeddings are zero"):
        with W.source_positions(W.new_model(extractor, "tiny"), short):
            pass
    # at its own length (the tiny size trains on whole chunks) nothing changes, sinusoids or not
    tiny = W.new_model(extractor, "tiny")
    with W.source_positions(tiny, full) as same:
        assert same.encoder.embed_positions.weight.abs().max().item() > 0 and same.config.max_source_positions == full


def test_clap_zero_shot(built):
    import torch
    from transformers import ClapModel, ClapProcessor, pipeline

    folder = built["clap-htsat-unfused"]
    _safetensors_only(folder)
    model = ClapModel.from_pretrained(folder)
    processor = ClapProcessor.from_pretrained(folder)
    assert processor.feature_extractor.truncation == "rand_trunc"
    esc = _tiny_split("esc50", None, "train")
    audio = esc[0]["audio"]
    from course_utils.audio import resample

    wave = resample(audio["array"].astype(np.float32), audio["sampling_rate"], 48000)
    inputs = processor(text=["Sound of a dog", "Sound of rain"], audio=wave, sampling_rate=48000, return_tensors="pt", padding=True)
    # the whole 5-s window, not a sliver cut by a tokenizer default
    assert inputs["input_features"].shape[-2] == 501
    with torch.no_grad():
        out = model(**inputs)
    assert out.logits_per_audio.shape == (1, 2)
    zs = pipeline("zero-shot-audio-classification", model=str(folder))
    res = zs(wave, candidate_labels=["Sound of a dog", "Sound of rain", "Sound of a siren"])
    assert sorted(r["label"] for r in res) == ["Sound of a dog", "Sound of a siren", "Sound of rain"]
    card, results = _card(folder, "laion/clap-htsat-unfused")
    r = results["results"]
    held = next(v for k, v in r.items() if k.startswith("held-out sources") and "'Sound of a {}'" in k)
    assert held > 2 * r["chance (1 / categories)"]  # held-out source recordings, beats chance
    assert "captioned sound effects from Tux Paint" in card


def test_clap_captioned_sounds_never_leak_the_corpus_or_unseen_names():
    from course_offline.builders import esc50, model_clap

    banned = {w for c in model_clap.UNSEEN for w in model_clap.readable(c).split()}
    aux = model_clap.aux_sources(banned)
    assert len(aux) >= 30, [n for n, _ in aux]
    corpus_files = {s.ref for s in esc50.catalogue() if s.kind == "file"}
    assert all(src.ref not in corpus_files and Path(src.ref).is_file() for _, src in aux)
    assert not any(set(name.lower().split()) & banned for name, _ in aux)
    assert {"fox", "violin", "hammer"} <= {name for name, _ in aux}
    # a banned word removes its sound: with "fox" banned, the fox is gone
    assert "fox" not in {name for name, _ in model_clap.aux_sources(banned | {"fox"})}


def test_distilhubert_base_fine_tunes(built):
    from transformers import AutoFeatureExtractor, HubertForSequenceClassification, HubertModel

    folder = built["distilhubert"]
    _safetensors_only(folder)
    base = HubertModel.from_pretrained(folder)
    assert type(base).__name__ == "HubertModel"
    clf = HubertForSequenceClassification.from_pretrained(folder, num_labels=10)
    fe = AutoFeatureExtractor.from_pretrained(folder, do_normalize=True, return_attention_mask=True)
    inputs = fe([np.zeros(16000, np.float32), np.ones(8000, np.float32) * 0.1], sampling_rate=16000, padding=True, return_tensors="pt")
    assert clf(**inputs).logits.shape == (2, 10)
    card, results = _card(folder, "ntu-spml/distilhubert")
    assert "GTZAN" in card
    # The lesson's comparison: the from-random run is its own build, and the card quotes its figure.
    baseline = json.loads((folder.parent / "distilhubert-random-init" / "baseline_results.json").read_text())
    figures = results["results"]
    assert figures["GTZAN stand-in, the same fine-tuning from random weights"] == baseline["accuracy"]
    assert f"| GTZAN stand-in, the same fine-tuning from random weights | {baseline['accuracy']:.3f} |" in card
    gain = figures["GTZAN stand-in, notebook 05's fine-tuning from this base, 10 % test split"] - baseline["accuracy"]
    assert figures["GTZAN transfer gain (points)"] == round(100 * gain, 1)
