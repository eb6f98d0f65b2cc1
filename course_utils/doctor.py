"""``python -m course_utils doctor``: check the environment, print a fix for each problem."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Callable

from . import hub

APT = "sudo apt-get install -y"
# Debian paths the offline builders read (see binder/apt.txt).
SOUNDFONTS = ["/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/TimGM6mb.sf2"]
TUXPAINT_STAMPS = "/usr/share/tuxpaint/stamps"


def _tool(name: str, package: str, why: str) -> tuple[bool, str, str]:
    path = shutil.which(name)
    return (path is not None, f"{name}: {path or 'not found'} ({why})", f"{APT} {package}")


def torchcodec_check() -> tuple[bool, str, str]:
    fix = ("python -m course_utils install-torchcodec (the release built for your torch; "
           "torchcodec==0.13.0 with the course's torch 2.13) and apt-get install ffmpeg")
    try:
        import numpy as np
        import soundfile as sf
        import io
        from torchcodec.decoders import AudioDecoder

        buf = io.BytesIO()
        sf.write(buf, np.zeros(1600, dtype=np.float32), 16000, format="WAV")
        samples = AudioDecoder(buf.getvalue()).get_all_samples()
        return True, f"torchcodec: decodes audio ({samples.data.shape[1]} samples)", fix
    except Exception as error:  # any failure to load FFmpeg libraries lands here
        return False, f"torchcodec: cannot decode ({str(error).splitlines()[0][:120]})", fix


def _espeak_voices() -> tuple[bool, str, str]:
    if not shutil.which("espeak-ng"):
        return False, "espeak-ng voices: espeak-ng missing", f"{APT} espeak-ng"
    out = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True).stdout
    count = max(0, len(out.splitlines()) - 1)
    return count > 50, f"espeak-ng voices: {count} languages", f"{APT} espeak-ng-data"


def _files(label: str, paths: list[str], package: str) -> tuple[bool, str, str]:
    missing = [p for p in paths if not Path(p).exists()]
    return (not missing, f"{label}: {'ok' if not missing else 'missing ' + ', '.join(missing)}", f"{APT} {package}")


def _hub() -> tuple[bool, str, str]:
    mode = hub.course_mode()
    reachable = hub.hub_reachable()
    text = f"Hub: {'reachable' if reachable else 'not reachable'}; mode={mode}"
    return True, text, ""  # both worlds are fine; this line only informs


def _data_dir() -> tuple[bool, str, str]:
    root = hub.data_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".doctor-write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        return False, f"data dir {root}: not writable ({error})", "set COURSE_DATA to a writable folder"
    free_gb = shutil.disk_usage(root).free / 1e9
    ok = free_gb > 5
    return ok, f"data dir {root}: writable, {free_gb:.1f} GB free", "free disk space (the course-size stand-ins need ~3 GB) or set COURSE_DATA elsewhere"


def _standins() -> tuple[bool, str, str]:
    from course_offline.builders import BUILDERS
    from course_offline.store import standin_dir

    size = hub.course_size()
    built = [b.name for b in BUILDERS.values() if standin_dir(b.kind, b.name, size).is_dir()]
    # the stand-ins and lesson 5's from-random baseline
    text = f"offline builds ({size}): {len(built)}/{len(BUILDERS)} built"
    return True, text, ""  # informative: `make course` builds what is missing


def run_checks(log: Callable[[str], None] = print) -> bool:
    checks: list[Callable[[], tuple[bool, str, str]]] = [
        lambda: _tool("ffmpeg", "ffmpeg", "decoding MP3/OGG, used by torchcodec and the pipelines"),
        torchcodec_check,
        lambda: _tool("espeak-ng", "espeak-ng", "speech stand-ins"),
        _espeak_voices,
        lambda: _tool("flite", "flite", "speech stand-ins, extra English voices"),
        lambda: _tool("fluidsynth", "fluidsynth", "GTZAN stand-in rendering"),
        lambda: _tool("sox", "sox libsox-fmt-all", "procedural sounds for the ESC-50 stand-in"),
        lambda: _files("GM soundfonts", SOUNDFONTS, "fluid-soundfont-gm timgm6mb-soundfont"),
        lambda: _files("tuxpaint recordings", [TUXPAINT_STAMPS], "tuxpaint-stamps-default"),
        _hub,
        _data_dir,
        _standins,
    ]
    all_ok = True
    for check in checks:
        ok, text, fix = check()
        log(f"[{'ok' if ok else 'FAIL'}] {text}")
        if not ok:
            all_ok = False
            log(f"       fix: {fix}")
    log("All checks passed." if all_ok else "Some checks failed: apply the fixes above, then run `make course`.")
    return all_ok
