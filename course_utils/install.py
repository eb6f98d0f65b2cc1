"""``python -m course_utils install-torchcodec``: a torchcodec that matches the torch already installed.

The course package does not list torchcodec in its core (``pip install <the course>`` keeps the torch
that is there: Colab's CUDA build, a GPU machine's); only its ``cpu`` extra pins torch and torchcodec
together (what ``make`` and CI install). This command installs the torchcodec release built for the
installed torch, so that ``datasets`` can decode audio, and FFmpeg where it is missing (apt, as
root: Colab); the lessons' setup cell runs it.
"""

from __future__ import annotations

import re
import subprocess
import sys

# torch minor -> torchcodec minor, from torchcodec's compatibility table (README, "Installing
# TorchCodec"); from torch 2.10 on the minors are equal (0.13 with 2.13 is what this course pins).
_BEFORE_2_10 = {6: 2, 7: 5, 8: 7, 9: 9}


def torchcodec_for(torch_version: str) -> str:
    """The pip requirement of the torchcodec release for ``torch_version`` (e.g. "2.8.0+cu126")."""
    match = re.match(r"^(\d+)\.(\d+)", torch_version)
    if not match or int(match[1]) != 2 or int(match[2]) < 6:
        raise ValueError(f"torch {torch_version}: torchcodec needs torch 2.6 or newer; upgrade torch first")
    minor = int(match[2])
    return f"torchcodec==0.{_BEFORE_2_10[minor] if minor < 10 else minor}.*"


def torchcodec_works() -> tuple[bool, str]:
    """Whether torchcodec loads and decodes a short WAV, and what happened."""
    from .doctor import torchcodec_check

    ok, message, _ = torchcodec_check()
    return ok, message


def ensure_ffmpeg() -> str:
    """FFmpeg, which torchcodec decodes with: present, installed with apt (as root), or what to do."""
    import os
    import shutil

    if shutil.which("ffmpeg"):
        return "ffmpeg: present"
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        done = subprocess.run("apt-get -qq update && apt-get -qq install -y --no-install-recommends ffmpeg",
                   shell=True, capture_output=True, text=True)
        if done.returncode == 0 and shutil.which("ffmpeg"):
            return "ffmpeg: installed with apt-get"
    return "ffmpeg: missing; install it (Debian/Ubuntu: sudo apt-get install ffmpeg; conda: conda install ffmpeg)"


def main() -> int:
    import torch

    print(ensure_ffmpeg(), flush=True)
    ok, message = torchcodec_works()
    if ok:
        print(f"{message}; nothing to install (torch {torch.__version__})")
        return 0
    requirement = torchcodec_for(torch.__version__)
    print(f"{message}\ninstalling {requirement} for torch {torch.__version__}", flush=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", requirement], check=True)
    # A fresh interpreter: the failed import above is cached in this one.
    check = subprocess.run([sys.executable, "-c", "from course_utils.install import torchcodec_works; "
                            "ok, m = torchcodec_works(); print(m); raise SystemExit(0 if ok else 1)"])
    return check.returncode
