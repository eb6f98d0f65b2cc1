"""Sound-effect tools for the ESC-50 stand-in: procedural sources and the augmentations that turn
one source recording into many 5-second clips (crops, speed/pitch change, gain, reverb, noise).

The procedural generators are for sounds that are well modelled as shaped noise or simple tones
(rain, wind, surf, fire, water drops, clock ticks, alarm beeps, engines, crickets, sirens, thunder, a helicopter's rotors).
"""

from __future__ import annotations

import numpy as np
import soxr
from scipy import signal

RATE = 44100


# --- small signal helpers ------------------------------------------------------------------------


def _noise(rng, n, colour="white"):
    x = rng.standard_normal(n)
    if colour == "white":
        return x
    spec = np.fft.rfft(x)
    f = np.maximum(np.fft.rfftfreq(n, 1 / RATE), 20.0)
    spec /= f ** (0.5 if colour == "pink" else 1.0)
    y = np.fft.irfft(spec, n)
    return y / (np.std(y) + 1e-12)


def _band(x, lo, hi, order=2):
    lo, hi = max(lo, 10.0), min(hi, RATE / 2 - 100)
    sos = signal.butter(order, [lo, hi], btype="band", fs=RATE, output="sos")
    return signal.sosfilt(sos, x)


def _low(x, hi, order=2):
    return signal.sosfilt(signal.butter(order, min(hi, RATE / 2 - 100), btype="low", fs=RATE, output="sos"), x)


def _smooth_walk(rng, n, rate_hz, lo, hi):
    """A slowly wandering value between lo and hi (for gusts, swells, engine revs)."""
    k = max(2, int(n / RATE * rate_hz) + 2)
    pts = rng.uniform(lo, hi, k)
    return np.interp(np.linspace(0, k - 1, n), np.arange(k), pts)


def _place(out, event, at):
    end = min(len(out), at + len(event))
    if end > at >= 0:
        out[at:end] += event[: end - at]


# --- procedural sources (each returns `seconds` of float64 audio at RATE) ------------------------


def rain(rng, seconds):
    n = int(seconds * RATE)
    bed = _band(_noise(rng, n, "pink"), 400, rng.uniform(6000, 12000)) * 0.3
    drops = np.zeros(n)
    for at in rng.integers(0, n, int(seconds * rng.uniform(150, 600))):
        d = int(RATE * rng.uniform(0.002, 0.01))
        d = min(d, n - at)
        drops[at:at + d] += rng.standard_normal(d) * np.exp(-np.linspace(0, 6, d)) * rng.uniform(0.2, 1)
    return bed + _band(drops, 1000, 10000)


def wind(rng, seconds):
    n = int(seconds * RATE)
    x = _noise(rng, n, "brown")
    centre = _smooth_walk(rng, n, 0.6, 200, 900)
    # Gusts: a bank of band-passes mixed by the wandering centre.
    bands = [(150, 400), (300, 700), (600, 1200)]
    out = np.zeros(n)
    for lo, hi in bands:
        w = np.exp(-((centre - (lo + hi) / 2) / 300) ** 2)
        out += _band(x, lo, hi) * w
    return out * _smooth_walk(rng, n, 0.4, 0.2, 1.0)


def sea_waves(rng, seconds):
    n = int(seconds * RATE)
    x = _low(_noise(rng, n, "pink"), rng.uniform(2500, 6000))
    period = rng.uniform(3.0, 7.0)
    t = np.arange(n) / RATE + rng.uniform(0, period)
    swell = (0.5 - 0.5 * np.cos(2 * np.pi * t / period)) ** 2
    return x * (0.15 + swell)


def crackling_fire(rng, seconds):
    n = int(seconds * RATE)
    bed = _low(_noise(rng, n, "brown"), 500) * 0.4
    out = bed.copy()
    for at in rng.integers(0, n, int(seconds * rng.uniform(20, 80))):
        d = int(RATE * rng.uniform(0.001, 0.006))
        click = rng.standard_normal(d) * np.exp(-np.linspace(0, 5, d)) * rng.uniform(0.5, 4)
        _place(out, _band(click, 1500, 9000), at)
    return out


def water_drops(rng, seconds):
    n = int(seconds * RATE)
    out = _noise(rng, n, "pink") * 0.003
    t = 0.0
    while t < seconds:
        d = int(RATE * rng.uniform(0.04, 0.12))
        tt = np.arange(d) / RATE
        f0 = rng.uniform(700, 2200)
        # A drop rings at a pitch that rises as the bubble shrinks.
        ph = 2 * np.pi * np.cumsum(f0 * (1 + tt * rng.uniform(5, 15))) / RATE
        _place(out, np.sin(ph) * np.exp(-tt * rng.uniform(30, 70)) * rng.uniform(0.3, 1), int(t * RATE))
        t += rng.uniform(0.15, 0.9)
    return out


def clock_tick(rng, seconds):
    n = int(seconds * RATE)
    out = _noise(rng, n, "pink") * 0.002
    period = rng.choice([0.5, 1.0, 0.25]) * rng.uniform(0.98, 1.02)
    f1, f2 = rng.uniform(2000, 5000), rng.uniform(1500, 4500)
    t, k = rng.uniform(0, 0.2), 0
    while t < seconds:
        d = int(RATE * 0.015)
        tt = np.arange(d) / RATE
        f = f1 if k % 2 == 0 else f2  # tick and tock differ
        click = (np.sin(2 * np.pi * f * tt) + 0.5 * rng.standard_normal(d)) * np.exp(-tt * rng.uniform(300, 600))
        _place(out, click, int(t * RATE))
        t, k = t + period, k + 1
    return out


def clock_alarm(rng, seconds):
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    f = rng.uniform(2000, 4200)
    tone = signal.square(2 * np.pi * f * t, duty=0.5) * 0.3 + np.sin(2 * np.pi * f * t) * 0.7
    beep, count, gap = rng.uniform(0.05, 0.12), int(rng.integers(2, 5)), rng.uniform(0.4, 0.8)
    cycle = count * beep * 2 + gap
    ph = (t + rng.uniform(0, cycle)) % cycle
    gate = (ph < count * beep * 2) & ((ph // beep) % 2 == 0)
    return _low(tone * gate, 9000)


def engine(rng, seconds):
    n = int(seconds * RATE)
    rpm = _smooth_walk(rng, n, 0.5, rng.uniform(700, 1200), rng.uniform(1400, 3500))
    fire = rpm / 60 * rng.choice([2, 3, 4]) / 2  # firing frequency of a 4-stroke engine
    ph = 2 * np.pi * np.cumsum(fire) / RATE
    pulses = np.maximum(np.sin(ph), 0) ** rng.uniform(4, 12)
    body = _band(pulses + 0.3 * _noise(rng, n, "brown") * pulses, 30, rng.uniform(800, 2500), order=3)
    return body + 0.05 * _band(_noise(rng, n), 1000, 5000)


def crickets(rng, seconds):
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    out = _noise(rng, n, "pink") * 0.01
    for _ in range(int(rng.integers(1, 4))):
        f = rng.uniform(3500, 5500)
        pulse_rate, chirp_rate = rng.uniform(25, 45), rng.uniform(1.0, 3.0)
        pulses = np.maximum(np.sin(2 * np.pi * pulse_rate * t + rng.uniform(0, 6)), 0) ** 2
        chirps = ((t * chirp_rate + rng.uniform(0, 1)) % 1.0) < rng.uniform(0.25, 0.6)
        out += np.sin(2 * np.pi * f * t) * pulses * chirps * rng.uniform(0.3, 1)
    return out


def siren(rng, seconds):
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    if rng.random() < 0.5:  # wail: slow sweep
        period = rng.uniform(2.5, 5.0)
        f = 700 + 700 * (0.5 - 0.5 * np.cos(2 * np.pi * t / period))
    else:  # two-tone "hi-lo"
        half = rng.uniform(0.4, 0.7)
        f = np.where((t % (2 * half)) < half, rng.uniform(900, 1000), rng.uniform(650, 750))
    ph = 2 * np.pi * np.cumsum(f) / RATE
    tone = sum(np.sin(k * ph) / k for k in range(1, 6))
    doppler = _smooth_walk(rng, n, 0.3, 0.4, 1.0)
    return _low(tone * doppler, 6000) + 0.02 * _noise(rng, n, "pink")


def thunderstorm(rng, seconds):
    n = int(seconds * RATE)
    out = rain(rng, seconds) * rng.uniform(0.05, 0.3)
    at = int(rng.uniform(0.0, 0.4) * n)
    d = n - at
    env = np.exp(-np.arange(d) / RATE / rng.uniform(1.0, 2.5))
    rumble = _low(_noise(rng, d, "brown"), rng.uniform(150, 400)) * env * _smooth_walk(rng, d, 3, 0.3, 1.0)
    crack = _band(rng.standard_normal(d), 300, 4000) * np.exp(-np.arange(d) / RATE / 0.08) * 0.5
    _place(out, rumble * 3 + crack, at)
    return out


def helicopter(rng, seconds):
    """Main-rotor blade slap (noise bursts at the blade-passing rate), tail-rotor buzz, turbine
    whine and a low rumble, swelling as it passes."""
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    bpf = rng.uniform(9, 20) * _smooth_walk(rng, n, 0.4, 0.96, 1.04)  # blades passing per second
    since = (np.cumsum(bpf) / RATE % 1.0) / bpf  # seconds since the last blade passed
    slap = np.exp(-since / rng.uniform(0.012, 0.04))
    body = _low(_noise(rng, n), rng.uniform(400, 1500)) * slap + np.sin(2 * np.pi * rng.uniform(50, 110) * t) * slap
    tail_since = (np.cumsum(bpf * rng.uniform(4, 6)) / RATE % 1.0) / (bpf * 5)
    tail = _band(_noise(rng, n), 200, 2500) * np.exp(-tail_since / 0.004) * rng.uniform(0.1, 0.35)
    whine = np.sin(2 * np.pi * rng.uniform(1500, 4000) * t) * rng.uniform(0.01, 0.06)
    rumble = _low(_noise(rng, n, "brown"), 200) * rng.uniform(0.2, 0.5)
    return (body + tail + whine + rumble) * _smooth_walk(rng, n, 0.3, 0.35, 1.0)


PROCEDURAL = {
    "rain": rain, "wind": wind, "sea_waves": sea_waves, "crackling_fire": crackling_fire,
    "water_drops": water_drops, "clock_tick": clock_tick, "clock_alarm": clock_alarm, "engine": engine,
    "crickets": crickets, "siren": siren, "thunderstorm": thunderstorm, "helicopter": helicopter,
}


# --- augmentation: one source recording -> many clips -------------------------------------------


def to_rate(x: np.ndarray, rate: int) -> np.ndarray:
    return x if rate == RATE else soxr.resample(x, rate, RATE, quality="HQ")


def trim(x: np.ndarray, rel_db: float = -40) -> np.ndarray:
    """Drop leading/trailing near-silence (relative to the peak)."""
    peak = np.abs(x).max() if x.size else 0.0
    if peak <= 0:
        return x
    idx = np.flatnonzero(np.abs(x) > peak * 10 ** (rel_db / 20))
    return x[idx[0]: idx[-1] + 1]


def speed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play faster (factor > 1) or slower: tempo and pitch change together, as on tape."""
    if abs(factor - 1) < 1e-3:
        return x
    return soxr.resample(x, RATE * factor, RATE, quality="HQ")


def reverb(rng, x: np.ndarray) -> np.ndarray:
    rt60 = rng.uniform(0.15, 0.9)
    n = int(RATE * rt60)
    ir = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / n)
    ir = _low(ir, rng.uniform(3000, 9000))
    ir[0] += 3.0
    wet = signal.fftconvolve(x, ir)[: len(x)]
    wet *= np.std(x) / (np.std(wet) + 1e-12)
    mix = rng.uniform(0.15, 0.5)
    return (1 - mix) * x + mix * wet


def fill(rng, src: np.ndarray, n: int) -> np.ndarray:
    """A continuous sound over n samples: one window of a long source, else crops joined by crossfades."""
    if len(src) >= n:
        a = int(rng.integers(0, len(src) - n + 1))
        return src[a: a + n].copy()
    out = np.zeros(n)
    fade = min(int(0.05 * RATE), max(1, len(src) // 4))
    ramp = np.linspace(0, 1, fade)
    pos = 0
    while pos < n:
        if len(src) > RATE:
            a = int(rng.integers(0, len(src) - RATE // 2))
            seg = src[a: a + int(rng.integers(RATE // 2, len(src) - a + 1))].copy()
        else:
            seg = src.copy()
        if len(seg) > 2 * fade:
            seg[:fade] *= ramp
            seg[-fade:] *= ramp[::-1]
        _place(out, seg, max(0, pos - fade if pos else 0))
        pos += max(len(seg) - fade, fade + 1)
    return out


def scatter(rng, src: np.ndarray, n: int, events: tuple[int, int]) -> np.ndarray:
    """A sound event repeated a few times over n samples, each a little different, silence between."""
    out = np.zeros(n)
    k = int(rng.integers(events[0], events[1] + 1))
    slots = np.sort(rng.uniform(0, 1, k))
    for s in slots:
        ev = speed(src, rng.uniform(0.94, 1.06)) * 10 ** (rng.uniform(-4, 0) / 20)
        if len(ev) >= n:
            a = int(rng.integers(0, len(ev) - n + 1))
            ev = ev[a: a + n]
        at = int(s * max(1, n - len(ev)))
        _place(out, ev, at)
    return out


def clip_from(rng, src: np.ndarray, mode: str, seconds: float = 5.0, events=(1, 3)) -> np.ndarray:
    """One 5-second clip derived from a source recording (float64 at RATE)."""
    n = int(seconds * RATE)
    x = speed(src, rng.uniform(0.88, 1.14))
    x = fill(rng, x, n) if mode == "fill" else scatter(rng, x, n, events)
    if rng.random() < 0.5:
        x = reverb(rng, x)
    if rng.random() < 0.6:  # background noise at a random SNR
        noise = _noise(rng, n, str(rng.choice(["pink", "brown", "white"])))
        if rng.random() < 0.5:
            noise = _low(noise, rng.uniform(1000, 6000))
        active = x[np.abs(x) > 1e-4 * np.abs(x).max()] if np.any(x) else x
        snr = rng.uniform(12, 35)
        x = x + noise * np.std(active) * 10 ** (-snr / 20)
    return x


def level(rng, x: np.ndarray) -> np.ndarray:
    """Peak-normalise to a random level below full scale (never clipped)."""
    peak = np.abs(x).max()
    if not np.isfinite(peak) or peak < 1e-9:
        raise ValueError("clip is silent")
    return (x * (10 ** (rng.uniform(-12, -1) / 20) / peak)).astype(np.float32)
