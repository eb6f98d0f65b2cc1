"""Each lesson's model at the REAL checkpoint's size on this CPU: peak memory and seconds per clip.

    python benchmarks/bench_real_sizes.py [--only xlsr|ast|whisper|clap|distilhubert] [--clips N]
                                          [--no-bf16] [--json FILE] [--footprint]
    python benchmarks/bench_real_sizes.py --smoke      # tiny configs of the same classes, in seconds

The real checkpoints cannot be downloaded here, so each model is built from its published
configuration with random weights, saved with ``save_pretrained`` to a temporary folder and
loaded back the way a lesson loads it (``pipeline(...)`` or ``from_pretrained``, fp32, and for the
two big ones also ``dtype=torch.bfloat16``). Speed and memory depend on the architecture and on
the shape of the input, not on the weights or on what the audio says, so the clips are synthetic
(noise and tones) of the lesson's length and rate.

Every measurement runs in a child process of its own (one torch thread), so that its peak RSS is
that model's alone, on top of what importing torch and transformers costs (reported as "imports").
A few clips are timed after a warm-up and the per-clip time is extrapolated to the number of clips
the lesson classifies at course size: the lesson estimates are extrapolations, not timed runs.

Memory is reported two ways: the peak RSS of the process (``ru_maxrss``, exact, what ``top``
shows), and the peak of its anonymous memory (``RssAnon``, sampled every 10 ms). The difference is
file-backed pages: safetensors files are memory-mapped while loading, and those pages count in RSS
but are page cache the kernel can drop under a memory limit instead of killing the process.

``--footprint`` prints the measured figures as the ``MODEL_FOOTPRINT`` literal of
``course_utils/sizing.py``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

NAME = "real sizes (random weights)"
HERE = Path(__file__).resolve().parent
BINDER_GB = 2.0  # mybinder.org's memory limit per session (about 2 GB)
GB = 1e9

# Per model: the Hub id it stands for, the lesson, how many clips the lesson classifies at course size
# (scripts/make_notebooks.py), the lesson's batch size, the clips' length, and how many clips are
# timed here by default (after a warm-up of one clip).
MODELS: dict[str, dict] = {
    "xlsr": dict(model_id="anton-l/xtreme_s_xlsr_300m_minds14", lesson="01", label="XLS-R 300M",
                 lesson_clips=300, batch_size=8, seconds=(3.0, 6.0), rate=16000, timed=8, bf16=True,
                 what="MINDS-14 calls, 3-6 s (8 kHz resampled to 16 kHz); batches padded to their longest"),
    "ast": dict(model_id="MIT/ast-finetuned-speech-commands-v2", lesson="02", label="AST base",
                lesson_clips=500, batch_size=16, seconds=(1.0, 1.0), rate=16000, timed=32, bf16=False,
                what="Speech Commands, 1-s clips; fast_fbank features as in the notebook"),
    "whisper": dict(model_id="sanchit-gandhi/whisper-medium-fleurs-lang-id", lesson="03",
                    label="Whisper-medium encoder", lesson_clips=500, batch_size=8, seconds=(10.0, 10.0),
                    rate=16000, timed=8, bf16=True,
                    what="FLEURS, 25 languages x 20 clips; every clip is padded to 30 s"),
    "clap": dict(model_id="laion/clap-htsat-unfused", lesson="04", label="CLAP HTSAT-unfused",
                 lesson_clips=400, batch_size=16, seconds=(5.0, 5.0), rate=48000, timed=16, bf16=False,
                 what="ESC-50 fold 5, 5-s clips at 48 kHz (repeat-padded to 10 s), 50 labels x 6 wordings"),
    "distilhubert": dict(model_id="ntu-spml/distilhubert", lesson="05", label="DistilHuBERT",
                         lesson_clips=100, batch_size=8, seconds=(30.0, 30.0), rate=16000, timed=8, bf16=False,
                         what="GTZAN fine-tuning: 899 train songs (113 steps of 8) x 3 epochs (cpu profile), "
                              "100 test songs evaluated after each epoch"),
}
# Lesson 4 embeds 50 category names in 6 wordings (1 + the 5 of the wording cell), ~8 tokens each.
CLAP_PROMPTS, CLAP_WORDINGS, CLAP_TOKENS = 50, 6, 8
# Lesson 5 on a CPU (configs/gtzan_finetune.yaml, profile cpu): 3 epochs of the 899 training songs.
GTZAN_TRAIN, GTZAN_TEST, CPU_EPOCHS = 899, 100, 3


# --- architectures ---------------------------------------------------------------------------------


def architecture(name: str, smoke: bool = False):
    """``(model_class, config, feature_extractor)`` of ``name``: the published checkpoint's, or tiny ones
    of the same classes when ``smoke``."""
    import transformers as tf

    if name == "xlsr":
        # XLS-R 300M (facebook/wav2vec2-xls-r-300m) with a 14-intent head; Wav2Vec2Config's other
        # defaults are XLS-R's (seven 512-channel convs, 128-tap positional conv in 16 groups).
        size = dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)
        if smoke:
            size = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        conv_dim=(32, 32), conv_kernel=(10, 64), conv_stride=(5, 64), num_conv_pos_embeddings=16,
                        num_conv_pos_embedding_groups=2, classifier_proj_size=16)
        config = tf.Wav2Vec2Config(**size, do_stable_layer_norm=True, feat_extract_norm="layer", conv_bias=True,
                                   num_labels=14)
        extractor = tf.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                                do_normalize=True, return_attention_mask=True)
        return tf.Wav2Vec2ForSequenceClassification, config, extractor
    if name == "ast":
        size = dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
        if smoke:
            size = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
        config = tf.ASTConfig(**size, num_mel_bins=128, max_length=128, patch_size=16, frequency_stride=10,
                              time_stride=10, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                              num_labels=35)
        extractor = tf.ASTFeatureExtractor(num_mel_bins=128, max_length=128, sampling_rate=16000)
        return tf.ASTForAudioClassification, config, extractor
    if name == "whisper":
        # Whisper-medium; WhisperForAudioClassification builds only the encoder.
        size = dict(d_model=1024, encoder_layers=24, encoder_attention_heads=16, encoder_ffn_dim=4096,
                    decoder_layers=24, decoder_attention_heads=16, decoder_ffn_dim=4096)
        if smoke:
            size = dict(d_model=32, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=64,
                        decoder_layers=2, decoder_attention_heads=2, decoder_ffn_dim=64, classifier_proj_size=16)
        config = tf.WhisperConfig(**size, num_mel_bins=80, max_source_positions=1500, num_labels=102)
        extractor = tf.WhisperFeatureExtractor(feature_size=80)  # pads every clip to 30 s
        return tf.WhisperForAudioClassification, config, extractor
    if name == "clap":
        # laion/clap-htsat-unfused's config.json sets nothing that differs from ClapConfig()'s
        # defaults (HTSAT [2, 2, 6, 2] x 96, RoBERTa-base text tower, projection 512, enable_fusion False).
        if smoke:
            config = tf.ClapConfig(
                audio_config=dict(spec_size=128, num_mel_bins=32, window_size=4, patch_size=8, patch_stride=(8, 8),
                                  patch_embeds_hidden_size=32, depths=(1, 1, 1), num_attention_heads=(2, 4, 8),
                                  hidden_size=128, num_hidden_layers=3, enable_fusion=False),
                text_config=dict(vocab_size=1000, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=64), projection_dim=16)
            extractor = tf.ClapFeatureExtractor(feature_size=32, max_length_s=5, truncation="rand_trunc")
        else:
            config = tf.ClapConfig()
            # The unfused checkpoint's preprocessor_config.json (the default truncation is "fusion").
            extractor = tf.ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")
        assert config.audio_config.enable_fusion is False
        return tf.ClapModel, config, extractor
    if name == "distilhubert":
        # HubertConfig's defaults are HuBERT-base's; DistilHuBERT keeps two transformer layers.
        size = dict(num_hidden_layers=2)
        if smoke:
            size = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                        conv_dim=(32, 32), conv_kernel=(10, 64), conv_stride=(5, 64), num_conv_pos_embeddings=16,
                        num_conv_pos_embedding_groups=2, classifier_proj_size=16)
        config = tf.HubertConfig(**size, num_labels=10)
        extractor = tf.Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16000, padding_value=0.0,
                                                do_normalize=False, return_attention_mask=False)
        return tf.HubertForSequenceClassification, config, extractor
    raise ValueError(f"unknown model {name!r}; one of {', '.join(MODELS)}")


def clips(n: int, seconds: tuple[float, float], rate: int, seed: int = 0) -> list:
    """``n`` synthetic float32 clips (noise and two tones), lengths spread evenly over ``seconds``."""
    import numpy as np

    rng = np.random.default_rng(seed)
    lengths = np.linspace(*seconds, n) if n > 1 else [seconds[1]]
    out = []
    for length in rng.permutation(np.asarray(lengths)):
        t = np.arange(int(length * rate)) / rate
        low, high = rng.uniform(100, 1000), rng.uniform(1e3, 4e3)
        tone = 0.1 * np.sin(2 * np.pi * low * t) + 0.05 * np.sin(2 * np.pi * high * t)
        out.append((tone + rng.normal(0, 0.02, t.size)).astype(np.float32))
    return out


# --- the child process: one measurement ------------------------------------------------------------


class Memory:
    """Peak RSS and peak anonymous RSS of this process; the anonymous part is sampled every 10 ms."""

    def __init__(self):
        self.peak_anon = self.peak_rss = 0
        self._stop = threading.Event()
        self.sample()
        threading.Thread(target=self._loop, daemon=True).start()

    @staticmethod
    def status() -> dict[str, int]:
        values = {}
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "RssAnon", "VmHWM"):
                    values[key] = int(rest.split()[0]) * 1024
        except OSError:  # not Linux: ru_maxrss only
            values["VmHWM"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return values

    def sample(self) -> dict[str, int]:
        s = self.status()
        self.peak_anon = max(self.peak_anon, s.get("RssAnon", 0))
        self.peak_rss = max(self.peak_rss, s.get("VmRSS", 0))
        return s

    def _loop(self):
        while not self._stop.wait(0.01):
            self.sample()

    def reset(self):
        """Start a new phase: the sampled peaks restart from now (ru_maxrss cannot)."""
        s = self.sample()
        self.peak_anon, self.peak_rss = s.get("RssAnon", 0), s.get("VmRSS", 0)

    def phase(self) -> dict[str, float]:
        s = self.sample()
        return {"rss_gb": s.get("VmRSS", 0) / GB, "peak_rss_gb": self.peak_rss / GB,
                "peak_anon_gb": self.peak_anon / GB}

    @staticmethod
    def maxrss_gb() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB


def prepare(job: dict) -> dict:
    """Build the model with random weights and save it with its feature extractor (fp32 safetensors)."""
    cls, config, extractor = architecture(job["name"], job["smoke"])
    start = time.perf_counter()
    model = cls(config)
    params = sum(p.numel() for p in model.parameters())
    model.save_pretrained(job["folder"])
    extractor.save_pretrained(job["folder"])
    size = sum(f.stat().st_size for f in Path(job["folder"]).iterdir())
    return {"params_m": params / 1e6, "folder_gb": size / GB, "build_s": time.perf_counter() - start}


def _load(name: str, folder: str, dtype):
    """What the lesson loads: a pipeline (lessons 1-3, 5's last cell) or the model (lesson 4)."""
    import transformers as tf

    if name in ("xlsr", "ast", "whisper"):
        classifier = tf.pipeline("audio-classification", model=folder, device="cpu", dtype=dtype)
        if name == "ast":
            from course_utils.fbank import fast_fbank

            classifier.feature_extractor = fast_fbank(classifier.feature_extractor)
        return classifier
    if name == "clap":
        model = tf.ClapModel.from_pretrained(folder, dtype=dtype).eval()
        return model, tf.ClapFeatureExtractor.from_pretrained(folder)
    model = tf.HubertForSequenceClassification.from_pretrained(folder, dtype=dtype)
    return model, tf.Wav2Vec2FeatureExtractor.from_pretrained(folder)


def _runner(name: str, loaded, spec: dict, dtype, bs: int):
    """A function classifying a list of clips the lesson's way, batched as the lesson batches."""
    import torch

    if name in ("xlsr", "ast", "whisper"):
        rate = spec["rate"]
        return lambda arrays: [out[0]["label"] for out in loaded(
            [{"raw": a, "sampling_rate": rate} for a in arrays], batch_size=bs, top_k=1)]
    model, extractor = loaded
    if name == "clap":  # notebook 04's embed_audio
        @torch.no_grad()
        def embed(arrays):
            parts = []
            for lo in range(0, len(arrays), bs):
                inputs = extractor(arrays[lo:lo + bs], sampling_rate=spec["rate"], return_tensors="pt")
                inputs["input_features"] = inputs["input_features"].to(dtype)
                out = model.get_audio_features(**inputs)
                parts.append(torch.nn.functional.normalize(getattr(out, "pooler_output", out), dim=-1))
            return torch.cat(parts)
        return embed

    @torch.no_grad()  # lesson 5's evaluation: Trainer.predict, batches of 8 songs
    def predict(arrays):
        model.eval()
        outs = []
        for lo in range(0, len(arrays), bs):
            inputs = extractor(arrays[lo:lo + bs], sampling_rate=spec["rate"], return_tensors="pt", padding=True)
            outs.append(model(inputs["input_values"].to(dtype)).logits.argmax(-1))
        return torch.cat(outs)
    return predict


def infer(job: dict, memory: Memory) -> dict:
    """Load (timed), warm up on one clip, then time ``clips`` clips; memory of each phase."""
    import torch

    name, spec = job["name"], MODELS[job["name"]]
    dtype = getattr(torch, job["dtype"])
    seconds, rate = _seconds(spec, job["smoke"]), spec["rate"]
    result: dict = {"imports_gb": memory.phase()["rss_gb"]}
    memory.reset()
    start, cpu = time.perf_counter(), time.process_time()
    loaded = _load(name, job["folder"], dtype)
    result["load_s"], result["load_cpu_s"] = time.perf_counter() - start, time.process_time() - cpu
    result["load"] = memory.phase()
    model = loaded.model if hasattr(loaded, "model") else loaded[0]
    result["params_m"] = sum(p.numel() for p in model.parameters()) / 1e6
    result["param_dtype"] = str(next(model.parameters()).dtype).replace("torch.", "")
    result["batch_size"] = job.get("batch_size") or spec["batch_size"]
    run = _runner(name, loaded, spec, dtype, result["batch_size"])
    arrays = clips(job["clips"], seconds, rate)
    memory.reset()
    start = time.perf_counter()
    run(clips(1, (seconds[1], seconds[1]), rate, seed=1))  # warm-up: first calls create kernels and buffers
    result["warmup_s"] = time.perf_counter() - start
    start, cpu = time.perf_counter(), time.process_time()
    run(arrays)
    result["run_s"], result["run_cpu_s"] = time.perf_counter() - start, time.process_time() - cpu
    result["clips"] = len(arrays)
    result["s_per_clip"] = result["run_s"] / len(arrays)
    result["cpu_s_per_clip"] = result["run_cpu_s"] / len(arrays)
    result["run"] = memory.phase()
    if name == "clap":  # lesson 4 also embeds 50 prompts in 6 wordings: time one set of 50
        tokens = CLAP_TOKENS if not job["smoke"] else 4
        ids = torch.randint(3, model.config.text_config.vocab_size, (CLAP_PROMPTS, tokens))
        with torch.no_grad():
            model.get_text_features(input_ids=ids[:2], attention_mask=torch.ones_like(ids[:2]))  # warm-up
            start, cpu = time.perf_counter(), time.process_time()
            model.get_text_features(input_ids=ids, attention_mask=torch.ones_like(ids))
        result["text_s_per_50"], result["text_cpu_s_per_50"] = time.perf_counter() - start, time.process_time() - cpu
    result["peak_rss_gb"] = Memory.maxrss_gb()
    return result


def train(job: dict, memory: Memory) -> dict:
    """Lesson 5's fine-tuning step (forward, backward, AdamW) at batch 8, for 10-s and 30-s songs.

    The 30-s step needs about 16 GB here; it is skipped, and says so, when the memory it would need
    (extrapolated from the 10-s step) is not free, so that a benchmark never meets the OOM killer.
    """
    import torch

    spec = MODELS["distilhubert"]
    result: dict = {"imports_gb": memory.phase()["rss_gb"]}
    model, _ = _load("distilhubert", job["folder"], torch.float32)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-5)
    result["load"] = memory.phase()
    bs = spec["batch_size"]
    warmup, lengths = (0.5, (1.0, 3.0)) if job["smoke"] else (1.0, (10.0, 30.0))
    rng = torch.Generator().manual_seed(0)

    def step(seconds: float) -> tuple[float, float]:
        x = torch.randn(bs, int(seconds * spec["rate"]), generator=rng) * 0.1
        y = torch.randint(0, 10, (bs,), generator=rng)
        start, cpu = time.perf_counter(), time.process_time()
        loss = model(x, labels=y).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return time.perf_counter() - start, time.process_time() - cpu

    result["warmup_s"] = step(warmup)[0]  # the first step also allocates AdamW's state
    base = memory.phase()["rss_gb"]
    for seconds in lengths:
        key = f"step_{seconds:g}s"
        if seconds != lengths[0]:
            # Activations grow a little faster than the length (attention): measured 4.6 GB added
            # at 10 s and 15.8 GB at 30 s, i.e. (30 / 10) ** 1.13.
            short = result[f"step_{lengths[0]:g}s"]["peak_rss_gb"]
            need = base + (short - base) * (seconds / lengths[0]) ** 1.15
            free = _available_gb() + memory.phase()["rss_gb"]
            if need > free - 1.0:
                result[key] = {"skipped": f"would need about {need:.1f} GB, {free:.1f} GB free"}
                continue
        memory.reset()
        times = [step(seconds) for _ in range(job.get("steps", 1))]
        result[key] = {"s_per_step": sum(t for t, _ in times) / len(times),
                       "cpu_s_per_step": sum(c for _, c in times) / len(times), "steps": len(times),
                       **memory.phase()}
    result["peak_rss_gb"] = Memory.maxrss_gb()
    return result


def _available_gb() -> float:
    # The lessons' own rule: the machine's available memory, or less under a cgroup limit (Binder's).
    from course_utils.sizing import available_memory_gb

    return available_memory_gb()


def _seconds(spec: dict, smoke: bool) -> tuple[float, float]:
    return (1.0, 1.0) if smoke and spec["seconds"][1] > 1 else spec["seconds"]


def child(jobs: list[dict]) -> None:
    """Run ``jobs`` in this process, one result line each (``RESULT {json}``)."""
    import torch

    torch.set_num_threads(1)
    sys.path.insert(0, str(HERE.parent))
    memory = Memory()
    import transformers  # noqa: F401  (counted in "imports", as in a notebook's first cells)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    for job in jobs:
        start = time.perf_counter()
        try:
            op = {"prepare": lambda j: prepare(j), "infer": lambda j: infer(j, memory),
                  "train": lambda j: train(j, memory)}[job["op"]]
            result = {"ok": True, **op(job)}
        except Exception as error:  # reported in the row; the other models still run
            result = {"ok": False, "error": f"{type(error).__name__}: {error}"}
        result["wall_s"] = time.perf_counter() - start
        print("RESULT " + json.dumps({"job": job, "result": result}), flush=True)


# The figures' keys, as shown: the lesson's batch in fp32 and bf16, and bf16 one clip at a time.
VARIANTS = (("float32", "fp32"), ("bfloat16", "bf16"), ("bfloat16_b1", "bf16, batch 1"))


# --- the parent: one child per measurement, then the table -----------------------------------------


# --isa avx2: the kernels an AVX2-only CPU (many cloud machines, Binder's among them) would run,
# on this AVX-512 (BF16) CPU: ATen's dispatch, oneDNN and MKL are each capped at AVX2.
ISA_ENV = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}}


def cpu_flags() -> str:
    """The CPU's bf16-relevant instruction sets (``avx512_bf16``, ``amx_bf16``...) or "AVX2 only"."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        words = next(line for line in lines if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return "unknown"
    found = [f for f in ("avx512f", "avx512_bf16", "amx_bf16") if f in words]
    return ", ".join(found) if found else ("AVX2 only" if "avx2" in words else "no AVX2")


def _spawn(jobs: list[dict], timeout: float = 900, isa: str | None = None) -> list[dict]:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               TOKENIZERS_PARALLELISM="false", HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error",
               **ISA_ENV.get(isa or "", {}))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(jobs)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    results = [json.loads(line[7:]) for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    done = {json.dumps(r["job"], sort_keys=True) for r in results}
    for job in jobs:  # a child killed (out of memory, say) reports nothing for its remaining jobs
        if json.dumps(job, sort_keys=True) not in done:
            why = f"child exited with {proc.returncode}" + (" (killed: out of memory?)" if proc.returncode < 0 else "")
            results.append({"job": job, "result": {"ok": False, "error": f"{why}: {proc.stderr.strip()[-300:]}"}})
    return results


def measure(names: list[str], *, n_clips: int | None = None, bf16: bool = True, smoke: bool = False, isa=None,
            log=print) -> dict[str, dict]:
    """``{name: {"prepare": ..., "float32": ..., "bfloat16": ..., "train": ...}}`` (results of the jobs)."""
    figures: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-real-") as tmp:
        plans = []
        for name in names:
            spec = MODELS[name]
            folder = str(Path(tmp) / name)
            timed = n_clips or (2 if smoke else spec["timed"])
            jobs = [{"op": "prepare", "name": name, "folder": folder, "smoke": smoke}]
            for dtype in ["float32"] + (["bfloat16"] if bf16 and spec["bf16"] else []):
                jobs.append({"op": "infer", "name": name, "folder": folder, "dtype": dtype, "clips": timed,
                             "smoke": smoke})
            if bf16 and spec["bf16"]:  # the fallback where the lesson's batch does not fit: one clip at a time
                jobs.append({"op": "infer", "name": name, "folder": folder, "dtype": "bfloat16", "batch_size": 1,
                             "clips": 2 if smoke else 3, "smoke": smoke})
            if name == "distilhubert":
                jobs.append({"op": "train", "name": name, "folder": folder, "smoke": smoke, "steps": 1})
            plans.append((name, folder, jobs))
        if smoke:  # every job in one child: checks the code paths, not the memory of one model
            results = _spawn([j for _, _, jobs in plans for j in jobs], isa=isa)
        for name, folder, jobs in plans:
            if not smoke:
                results = []
                for job in jobs:
                    log(f"[real sizes] {name}: {job['op']} {job.get('dtype', '')}")
                    results += _spawn([job], isa=isa if job["op"] != "prepare" else None)
                    if job["op"] == "prepare" and not results[-1]["result"]["ok"]:
                        break
                shutil.rmtree(folder, ignore_errors=True)  # 1.3 GB for the big ones
            for r in results:
                if r["job"]["name"] == name:
                    key = r["job"]["op"]
                    if key == "infer":
                        key = r["job"]["dtype"] + (f"_b{r['job']['batch_size']}" if "batch_size" in r["job"] else "")
                    figures.setdefault(name, {})[key] = r["result"]
    return figures


def lesson_minutes(name: str, fig: dict, dtype: str = "float32") -> float | None:
    """The lesson's model time on this CPU in minutes, one thread, extrapolated from the clips timed,
    in CPU seconds (= wall seconds on an idle machine): load + clips x s/clip (lesson 4: + 6 sets of
    50 prompts; lesson 5: 3 epochs of 113 training steps of 8 x 30-s songs and an evaluation of the
    100 test songs after each)."""
    spec, r = MODELS[name], fig.get(dtype) or {}
    if not r.get("ok"):
        return None
    seconds = r["load_cpu_s"] + spec["lesson_clips"] * r["cpu_s_per_clip"]
    if name == "clap":
        seconds += CLAP_WORDINGS * r.get("text_cpu_s_per_50", 0.0)
    if name == "distilhubert":
        train = fig.get("train") or {}
        step = next((train[k] for k in ("step_30s", "step_3s") if "cpu_s_per_step" in train.get(k, {})), None)
        if step is None:
            return None
        steps = -(-GTZAN_TRAIN // spec["batch_size"])
        seconds = r["load_cpu_s"] + CPU_EPOCHS * (steps * step["cpu_s_per_step"] + GTZAN_TEST * r["cpu_s_per_clip"])
    return seconds / 60


def need_gb(r: dict) -> float:
    """Resident memory the model needs beyond the imports: the run's peak RSS (weights, whether
    memory-mapped or copied, and activations), or the load's anonymous peak where larger. File pages
    touched only while loading (an fp32 file converted to bf16) are page cache, left out."""
    return max(r["run"]["peak_rss_gb"], r["load"]["peak_anon_gb"]) - r["imports_gb"]


def rows(figures: dict[str, dict], smoke: bool = False) -> list[dict]:
    """Rows for run_all's table: per model and dtype, peak RSS against Binder's 2 GB, and s/clip."""
    out = []

    def add(measure, course="", note="", **more):
        out.append({"bench": NAME, "measure": measure, "course": course, "note": note, **more})

    for name, fig in figures.items():
        spec = MODELS[name]
        head = f"{spec['lesson']} {spec['label']}"
        prep = fig.get("prepare", {})
        if not prep.get("ok"):
            add(head, note=f"failed: {prep.get('error', 'not run')}")
            continue
        for dtype, short in VARIANTS:
            r = fig.get(dtype)
            if r is None:
                continue
            if not r.get("ok"):
                add(f"{head} {short}", note=f"failed: {r['error']}")
                continue
            peak = r["peak_rss_gb"]
            anon = max(r["load"]["peak_anon_gb"], r["run"]["peak_anon_gb"])
            add(f"{head} {short}: peak RSS (GB)", f"{peak:.2f}", baseline=f"{BINDER_GB:.1f}", ratio=BINDER_GB / peak,
                target=1.0, note=f"baseline: Binder's limit; {prep['params_m']:.1f} M params; imports "
                                 f"{r['imports_gb']:.2f}, model needs {need_gb(r):.2f} more; peak anon {anon:.2f}; "
                                 f"load {r['load_cpu_s']:.1f} CPU-s")
            minutes = lesson_minutes(name, fig, dtype)
            text = f"; 50 prompts {r['text_cpu_s_per_50']:.2f} CPU-s" if "text_cpu_s_per_50" in r else ""
            lesson = ""
            if minutes is not None and name != "distilhubert":  # lesson 5's minutes: the training row below
                lesson = f"; lesson {spec['lesson_clips']} clips: ~{minutes:.1f} min"
            add(f"{head} {short}: CPU s per clip (batch {r['batch_size']})", f"{r['cpu_s_per_clip']:.3f}",
                note=f"{r['clips']} clips after a warm-up, wall {r['s_per_clip']:.3f} s/clip{text}{lesson}")
        t = fig.get("train")
        if t is not None:
            if not t.get("ok"):
                add(f"{head} training step", note=f"failed: {t['error']}")
                continue
            for key, step in t.items():
                if not key.startswith("step_"):
                    continue
                measure = f"{head} training step, batch 8 x {key[5:]}: CPU s"
                if "skipped" in step:
                    add(measure, note=f"not run: {step['skipped']}")
                    continue
                add(measure, f"{step['cpu_s_per_step']:.1f}",
                    note=f"wall {step['s_per_step']:.1f} s; peak RSS {step['peak_rss_gb']:.2f} GB "
                         f"(anon {step['peak_anon_gb']:.2f}) against Binder's {BINDER_GB:.0f}; fp32, AdamW")
            minutes = lesson_minutes(name, fig)
            if minutes is not None:
                add(f"{head}: lesson 5 on this CPU (min)", f"{minutes:.0f}",
                    note=f"{CPU_EPOCHS} epochs x {-(-GTZAN_TRAIN // 8)} steps + {GTZAN_TEST} test songs per epoch, "
                         f"from the CPU s above")
    if smoke:
        for r in out:
            r["note"] = "smoke (tiny configs): " + r.get("note", "")
    return out


def footprint(figures: dict[str, dict], isa: str | None = None) -> dict[str, dict]:
    """The figures in ``course_utils.sizing.MODEL_FOOTPRINT``'s form (with ``isa``, the times are named
    ``s_per_clip_<isa>``: merge those by hand)."""
    out = {}
    for name, fig in figures.items():
        spec, entry = MODELS[name], {}
        for dtype, short in VARIANTS:
            r = fig.get(dtype) or {}
            if r.get("ok"):
                per_clip = round(r["cpu_s_per_clip"], 3 if r["cpu_s_per_clip"] < 0.1 else 2)
                entry[short.replace(", batch ", "_b")] = {
                    "batch_size": r["batch_size"], "peak_gb": round(r["peak_rss_gb"], 2),
                    "need_gb": round(need_gb(r), 2), "s_per_clip" + (f"_{isa}" if isa else ""): per_clip,
                    "load_s": round(r["load_cpu_s"], 1)}
        t = fig.get("train") or {}
        for key in [k for k in t if k.startswith("step_")]:  # step_10s, step_30s (smoke: step_1s, step_3s)
            if "cpu_s_per_step" in t[key]:
                entry[f"train_{key[5:]}"] = {"s_per_step": round(t[key]["cpu_s_per_step"], 1),
                                             "peak_gb": round(t[key]["peak_rss_gb"], 2),
                                             "need_gb": round(t[key]["peak_rss_gb"] - t["imports_gb"], 2)}
        out[spec["model_id"]] = {"params_m": round(fig.get("prepare", {}).get("params_m", 0), 1),
                                 "lesson_clips": spec["lesson_clips"], "batch_size": spec["batch_size"], **entry}
    return out


def run(size: str = "course", only: list[str] | None = None, n_clips: int | None = None, bf16: bool = True,
        log=None) -> list[dict]:
    """``make bench``'s entry: ``size`` tiny runs the smoke configs."""
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    smoke = size == "tiny"
    return rows(measure(only or list(MODELS), n_clips=n_clips, bf16=bf16, smoke=smoke, log=log), smoke=smoke)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=list(MODELS))
    parser.add_argument("--clips", type=int, default=None, help="clips timed per model (default: per model, 2-32)")
    parser.add_argument("--smoke", action="store_true", help="tiny configs of the same classes, one child, seconds")
    parser.add_argument("--no-bf16", action="store_true", help="skip the bf16 loads of XLS-R and Whisper")
    parser.add_argument("--isa", choices=sorted(ISA_ENV), default=None,
                        help="cap the kernels at this instruction set (avx2: as on a CPU without AVX-512)")
    parser.add_argument("--json", default=None, help="also write the figures and rows to this file")
    parser.add_argument("--footprint", action="store_true", help="print the figures as sizing.MODEL_FOOTPRINT")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ns = parser.parse_args()
    if ns.child is not None:
        child(json.loads(ns.child))
        return
    sys.path.insert(0, str(HERE))
    from run_all import machine, print_table

    start = time.perf_counter()
    figures = measure(ns.only or list(MODELS), n_clips=ns.clips, bf16=not ns.no_bf16, smoke=ns.smoke, isa=ns.isa,
                      log=lambda s: print(s, file=sys.stderr, flush=True))
    table = rows(figures, smoke=ns.smoke)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    isa = f"; kernels capped at {ns.isa.upper()}" if ns.isa else ""
    print(f"\nMachine: {machine()}\nCPU: {cpu_flags()}{isa}\nDate: {stamp}; {time.perf_counter() - start:.0f} s\n")
    print_table(table)
    if ns.footprint:
        print("\nMODEL_FOOTPRINT = " + json.dumps(footprint(figures, ns.isa), indent=4))
    if ns.json:
        Path(ns.json).write_text(json.dumps({"machine": machine(), "cpu": cpu_flags(), "isa": ns.isa, "date": stamp,
                                             "smoke": ns.smoke,
                                             "figures": figures, "rows": table}, indent=2, default=str))


if __name__ == "__main__":
    main()
