"""Shared fixtures: an isolated offline world and real audio files made on the spot."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from course_utils import hub

# Offline (make test): the local Hub of tiny stand-ins, started before any test module imports the
# Hugging Face clients (they read HF_ENDPOINT when they are imported). Stopped at the end if this
# run started it.
_STARTED_LOCAL_HUB = False
if hub.course_mode() == "offline":
    from course_offline import local_hub

    _STARTED_LOCAL_HUB = local_hub.running() is None
    hub.start_world()


def pytest_sessionfinish(session, exitstatus):
    if _STARTED_LOCAL_HUB:
        local_hub.stop()


def sine(freq: float = 440.0, seconds: float = 1.0, rate: int = 16000, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def peak_frequency(array: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(array * np.hanning(len(array))))
    return float(np.fft.rfftfreq(len(array), 1 / rate)[spectrum.argmax()])


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """Offline mode with an empty, private COURSE_DATA."""
    monkeypatch.setenv("COURSE_MODE", "offline")
    monkeypatch.setenv("COURSE_SIZE", "tiny")
    monkeypatch.setenv("COURSE_DATA", str(tmp_path / "course_data"))
    return tmp_path / "course_data"


@pytest.fixture
def sine_wav(tmp_path):
    """A 1 s, 440 Hz, 16-bit WAV at 44.1 kHz."""
    path = tmp_path / "sine.wav"
    sf.write(path, sine(440, 1.0, 44100), 44100, subtype="PCM_16")
    return path
