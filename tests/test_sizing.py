"""The sizing rule the lessons follow before loading a real checkpoint (course_utils.sizing).

No mocks of the course's code: the memory left is passed as a plain argument (``available_gb=``),
and the cgroup readers read cgroup files written in a temporary folder (only the standard library's
list of start methods is replaced once, to show a machine without fork). The footprints are those measured by
benchmarks/bench_real_sizes.py on the real architectures.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch

from course_utils import sizing
from course_utils.sizing import MODEL_FOOTPRINT, MachineTooSmall, plan_inference, plan_training

REPO = Path(__file__).resolve().parent.parent
XLSR = "anton-l/xtreme_s_xlsr_300m_minds14"
AST = "MIT/ast-finetuned-speech-commands-v2"
WHISPER = "sanchit-gandhi/whisper-medium-fleurs-lang-id"
CLAP = "laion/clap-htsat-unfused"
DISTILHUBERT = "ntu-spml/distilhubert"
# A Binder session: 2 GB in all, of which the Jupyter server and a kernel that has imported torch,
# transformers and datasets and loaded the lesson's data already use about half a gigabyte.
BINDER_LEFT = 2.0 - 0.5
LAPTOP_LEFT = 16.0


# --- the measured table ------------------------------------------------------------------------------


def test_the_table_covers_the_five_checkpoints_the_notebooks_load():
    generator = "".join(p.read_text() for p in sorted((REPO / "scripts").rglob("*.py")))  # the lessons' sources
    assert set(MODEL_FOOTPRINT) == {XLSR, AST, WHISPER, CLAP, DISTILHUBERT}
    for model_id, fp in MODEL_FOOTPRINT.items():
        assert model_id in generator, model_id
        assert fp["params_m"] > 20 and fp["batch_size"] in (8, 16)
        for key in ("fp32", "bf16", "bf16_b1"):
            if key in fp:  # the whole process's peak includes the imports, the model's need does not
                assert 0 < fp[key]["need_gb"] < fp[key]["peak_gb"], (model_id, key)
                assert fp[key]["s_per_clip"] > 0
    # Published sizes: XLS-R 300M and Whisper-medium's encoder ~300 M, AST ~86 M, DistilHuBERT 23.5 M.
    assert 300 < MODEL_FOOTPRINT[XLSR]["params_m"] < 330 and 300 < MODEL_FOOTPRINT[WHISPER]["params_m"] < 320
    assert 85 < MODEL_FOOTPRINT[AST]["params_m"] < 88 and 23 < MODEL_FOOTPRINT[DISTILHUBERT]["params_m"] < 24


# --- memory: the rule picks float32, bfloat16, or refuses --------------------------------------------


def test_on_a_16_gb_machine_without_bf16_instructions_every_model_loads_in_float32():
    for model_id in MODEL_FOOTPRINT:
        plan = plan_inference(model_id, 10, device="cpu", available_gb=LAPTOP_LEFT, bf16_fast=False)
        assert plan.dtype is torch.float32 and plan.load_kwargs == {"dtype": torch.float32}, plan.reason
        assert plan.batch_size == MODEL_FOOTPRINT[model_id]["batch_size"]


def test_with_bf16_instructions_the_faster_bfloat16_wins_where_it_was_measured():
    """A bigger machine must not classify fewer clips: where bfloat16 is faster, it is chosen."""
    for model_id, fp in MODEL_FOOTPRINT.items():
        plan = plan_inference(model_id, 300, device="cpu", available_gb=LAPTOP_LEFT, bf16_fast=True)
        fastest = min((k for k in ("fp32", "bf16", "bf16_b1") if k in fp), key=lambda k: fp[k]["s_per_clip"])
        assert plan.dtype is (torch.float32 if fastest == "fp32" else torch.bfloat16), plan.reason
        if "bf16" in fp:  # a machine with less memory left falls back to bfloat16 at batch 1: never more clips
            small = plan_inference(model_id, 300, device="cpu", available_gb=1.5, bf16_fast=True)
            assert small.batch_size == 1 and plan.n_clips >= small.n_clips, (plan.reason, small.reason)


def test_on_binder_xlsr_is_refused_or_runs_in_bfloat16_and_whisper_runs_in_bfloat16():
    # XLS-R: float32 needs ~2.6 GB beyond the kernel, bfloat16 at batch 8 ~1.4 GB, at batch 1 ~0.9 GB
    # (x 1.15 headroom): on Binder's 1.5 GB left, bfloat16 one clip at a time.
    plan = plan_inference(XLSR, 300, device="cpu", available_gb=BINDER_LEFT, bf16_fast=True)
    assert plan.dtype is torch.bfloat16 and plan.batch_size == 1, plan.reason
    plan = plan_inference(WHISPER, 500, device="cpu", available_gb=BINDER_LEFT, bf16_fast=True)
    assert plan.dtype is torch.bfloat16 and "float32 would need" in plan.reason, plan.reason
    # The small ones stay in float32 there.
    assert plan_inference(AST, 500, device="cpu", available_gb=BINDER_LEFT).dtype is torch.float32
    assert plan_inference(CLAP, 400, device="cpu", available_gb=BINDER_LEFT).dtype is torch.float32


def test_without_bf16_instructions_bfloat16_only_when_float32_does_not_fit():
    fp = MODEL_FOOTPRINT[XLSR]
    between = (fp["fp32"]["need_gb"] + fp["bf16"]["need_gb"]) / 2 * sizing.MARGIN
    assert plan_inference(XLSR, 300, device="cpu", available_gb=between, bf16_fast=False).dtype is torch.bfloat16
    enough = fp["fp32"]["need_gb"] * sizing.MARGIN
    assert plan_inference(XLSR, 300, device="cpu", available_gb=enough, bf16_fast=False).dtype is torch.float32


def test_one_clip_at_a_time_when_the_lessons_batch_does_not_fit():
    fp = MODEL_FOOTPRINT[XLSR]
    just = fp["bf16_b1"]["need_gb"] * sizing.MARGIN
    assert just < fp["bf16"]["need_gb"] * sizing.MARGIN
    plan = plan_inference(XLSR, 300, device="cpu", available_gb=just, bf16_fast=True)
    assert plan.dtype is torch.bfloat16 and plan.batch_size == 1, plan.reason
    assert "one clip at a time" in plan.reason and plan.n_clips == 300


def test_without_bfloat16_instructions_bfloat16_is_timed_with_the_avx2_figures():
    fast = plan_inference(WHISPER, 500, device="cpu", available_gb=BINDER_LEFT, bf16_fast=True)
    slow = plan_inference(WHISPER, 500, device="cpu", available_gb=BINDER_LEFT, bf16_fast=False)
    assert fast.dtype is slow.dtype is torch.bfloat16  # memory decides the dtype, the CPU only the time
    b1 = MODEL_FOOTPRINT[WHISPER]["bf16_b1"]
    assert fast.n_clips == math.floor((600 - b1["load_s"]) / b1["s_per_clip"])
    assert slow.n_clips == math.floor((600 - b1["load_s"]) / b1["s_per_clip_avx2"]) < fast.n_clips
    assert "no bfloat16 instructions" in slow.reason and "no bfloat16" not in fast.reason


def test_bf16_instructions_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    assert sizing.has_bf16_instructions(cpuinfo) is True
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 fma\n")
    assert sizing.has_bf16_instructions(cpuinfo) is False
    cpuinfo.write_text("processor\t: 0\nFeatures\t: fp asimd sve bf16\n")  # Arm (Graviton 3)
    assert sizing.has_bf16_instructions(cpuinfo) is True
    assert sizing.has_bf16_instructions(tmp_path / "absent") is None


def test_the_error_says_what_is_needed_what_is_available_and_what_to_do():
    with pytest.raises(MachineTooSmall) as caught:
        plan_inference(XLSR, 300, device="cpu", available_gb=0.5)
    message = str(caught.value)
    least = min(MODEL_FOOTPRINT[XLSR][k]["need_gb"] for k in ("fp32", "bf16", "bf16_b1") if k in MODEL_FOOTPRINT[XLSR])
    assert f"{least * sizing.MARGIN:.1f} GB" in message and "0.5 GB available" in message, message
    assert XLSR in message and "Colab" in message and "COURSE_MODE=offline" in message
    assert caught.value.need_gb == pytest.approx(least * sizing.MARGIN) and caught.value.available_gb == 0.5


# --- time: the clips that fit the budget on a CPU, all of them on a GPU -----------------------------


def test_budget_arithmetic_on_a_cpu():
    fp = MODEL_FOOTPRINT[WHISPER]["fp32"]
    plan = plan_inference(WHISPER, 500, device="cpu", budget_s=600, available_gb=LAPTOP_LEFT, bf16_fast=False)
    per_clip = fp.get("s_per_clip_avx2", fp["s_per_clip"])  # no bf16 instructions: the AVX2 figures
    expected = math.floor((600 - fp["load_s"]) / per_clip)
    assert plan.n_clips == expected < 500 and plan.n_clips_wanted == 500
    assert plan.seconds == pytest.approx(fp["load_s"] + expected * per_clip)
    assert re.search(rf"CPU, float32: {per_clip:.1f} s per clip, so {expected} of 500 clips fit 10 minutes",
                     plan.reason), plan.reason
    assert "a GPU would classify all 500" in plan.reason
    # A budget long enough for all of them, and one too short for any: at least one clip.
    assert plan_inference(WHISPER, 5, device="cpu", budget_s=3600, available_gb=LAPTOP_LEFT).n_clips == 5
    assert plan_inference(WHISPER, 500, device="cpu", budget_s=1, available_gb=LAPTOP_LEFT).n_clips == 1
    small = plan_inference(AST, 500, device="cpu", available_gb=LAPTOP_LEFT)
    assert small.n_clips == 500 and "all 500 clips fit 10 minutes" in small.reason


def test_on_a_gpu_all_clips_in_float32_and_offline_the_stand_ins():
    for device in ("cuda", "cuda:0", torch.device("cuda")):
        plan = plan_inference(WHISPER, 500, device=device, available_gb=0.1)  # host memory is not the limit
        assert plan.n_clips == 500 and plan.dtype is torch.float32 and plan.reason.startswith("CUDA"), plan.reason
    plan = plan_inference(XLSR, 60, device="cpu", offline=True, available_gb=0.1)
    assert plan.n_clips == 60 and plan.dtype is torch.float32 and plan.reason.startswith("offline")


def test_fine_tuning_30_s_songs_needs_far_more_than_binder():
    fp = MODEL_FOOTPRINT[DISTILHUBERT]
    with pytest.raises(MachineTooSmall, match="fine-tune on batches of 8 songs of 30 s"):
        plan_training(DISTILHUBERT, 339, clip_seconds=30, device="cpu", available_gb=8.0)
    plan = plan_training(DISTILHUBERT, 339, clip_seconds=10, device="cpu", available_gb=LAPTOP_LEFT, budget_s=600)
    assert plan.n_clips == math.floor(600 / fp["train_10s"]["s_per_step"]) and plan.batch_size == 8, plan.reason
    assert plan_training(DISTILHUBERT, 339, device="cuda").n_clips == 339


# --- available memory: the cgroup files ---------------------------------------------------------------


def _write(folder: Path, **files: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".", 1) if name.startswith("memory_") else folder / name).write_text(text)


def test_cgroup_v2_limit_less_the_working_set(tmp_path):
    _write(tmp_path, memory_max="2000000000\n", memory_current="1000000000\n",
           memory_stat="anon 700000000\nfile 300000000\ninactive_file 200000000\n")
    (tmp_path / "self_cgroup").write_text("0::/\n")
    left = sizing.cgroup_memory_left_gb(tmp_path, tmp_path / "self_cgroup")
    assert left == pytest.approx(2.0 - (1.0 - 0.2))  # the inactive file cache is reclaimed first
    (tmp_path / "memory.max").write_text("max\n")
    assert sizing.cgroup_memory_left_gb(tmp_path, tmp_path / "self_cgroup") is None


def test_cgroup_v2_nested_the_tightest_ancestor_wins(tmp_path):
    _write(tmp_path / "user" / "app", memory_max="4000000000\n", memory_current="500000000\n")
    _write(tmp_path / "user", memory_max="1500000000\n", memory_current="1000000000\n")
    (tmp_path / "self_cgroup").write_text("0::/user/app\n")
    assert sizing.cgroup_memory_left_gb(tmp_path, tmp_path / "self_cgroup") == pytest.approx(0.5)


def test_cgroup_v1(tmp_path):
    memory = tmp_path / "memory"
    _write(memory, memory_limit_in_bytes="9223372036854771712\n", memory_usage_in_bytes="5000000000\n")
    _write(memory / "pod", memory_limit_in_bytes="2147483648\n", memory_usage_in_bytes="1200000000\n",
           memory_stat="inactive_file 1000\ntotal_inactive_file 200000000\n")
    (tmp_path / "self_cgroup").write_text("12:pids:/pod\n4:memory:/pod\n0::/\n")
    left = sizing.cgroup_memory_left_gb(tmp_path, tmp_path / "self_cgroup")
    assert left == pytest.approx((2147483648 - 1_000_000_000) / 1e9)
    (memory / "pod" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # unlimited
    assert sizing.cgroup_memory_left_gb(tmp_path, tmp_path / "self_cgroup") is None


def test_available_memory_on_this_machine():
    available = sizing.available_memory_gb()
    total = int(Path("/proc/meminfo").read_text().split()[1]) * 1024 / 1e9
    assert 0 < available <= total
    # Without cgroup files: the machine's MemAvailable.
    assert 0 < sizing.available_memory_gb(cgroup_root=REPO / "no-such-cgroup") <= total


# --- CPUs and DataLoader workers (course_utils.training) -------------------------------------------


def test_usable_cpus_honours_a_cgroup_cpu_quota(tmp_path):
    import os

    from course_utils.training import usable_cpus

    affinity = len(os.sched_getaffinity(0))
    v2, v1 = tmp_path / "v2", tmp_path / "v1"
    (v2 / "user" / "kernel").mkdir(parents=True)
    (v1 / "cpu" / "docker").mkdir(parents=True)
    proc_v2, proc_v1 = tmp_path / "cgroup_v2", tmp_path / "cgroup_v1"
    proc_v2.write_text("0::/user/kernel\n")
    proc_v1.write_text("4:memory:/docker\n2:cpu,cpuacct:/docker\n")
    assert usable_cpus(v2, proc_v2) == affinity  # no cpu.max anywhere: the affinity
    (v2 / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(v2, proc_v2) == affinity  # v2 without a quota
    (v2 / "user" / "cpu.max").write_text("50000 100000\n")
    (v2 / "user" / "kernel" / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(v2, proc_v2) == 1  # an ancestor's half CPU bounds the kernel's cgroup: one thread
    (v1 / "cpu" / "docker" / "cpu.cfs_period_us").write_text("100000\n")
    (v1 / "cpu" / "docker" / "cpu.cfs_quota_us").write_text("-1\n")
    assert usable_cpus(v1, proc_v1) == affinity  # v1 without a quota
    (v1 / "cpu" / "docker" / "cpu.cfs_quota_us").write_text("150000\n")
    assert usable_cpus(v1, proc_v1) == min(affinity, 2)  # 1.5 CPUs: two threads can use them


def test_data_workers_use_the_cores_that_training_leaves_free(monkeypatch):
    import multiprocessing

    from course_utils.training import data_workers, usable_cpus

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(usable_cpus())  # training takes every core: none left to decode
        assert data_workers("auto") == (min(4, usable_cpus() - 1) if torch.cuda.is_available() else 0)  # a GPU needs one
        torch.set_num_threads(1)  # training's one thread on a small CPU: the other cores decode (at most 4)
        assert data_workers("auto") == min(4, usable_cpus() - 1)
        assert data_workers(3) == 3 and data_workers("2") == 2 and data_workers(0) == 0
        # Windows has no fork: a worker could not see a preprocess_function defined in a notebook.
        monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
        assert data_workers("auto") == 0 and data_workers(3) == 0
    finally:
        torch.set_num_threads(before)
