"""Procedural songs in the ten GTZAN genres, written as MIDI for fluidsynth to play.

Each genre is a style: a tempo range, swing, drum patterns, a chord progression family, a bass
line, a comping rhythm, a lead line and pools of General MIDI programs. Every song draws its own
tempo, key, patterns and instruments, and some instruments and tempi are shared between genres on
purpose, so that genre is carried by the musical content as a whole, not by one telltale sound.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pretty_midi

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]

# General MIDI drum notes.
KICK, RIM, SNARE, CLAP, HAT, PEDAL, OPEN, CRASH, RIDE, TOM_L, TOM_H, SHAKER, COWBELL = (
    36, 37, 38, 39, 42, 44, 46, 49, 51, 45, 50, 70, 56)

# Chord qualities as intervals above the root.
CHORD = {
    "maj": (0, 4, 7), "min": (0, 3, 7), "7": (0, 4, 7, 10), "maj7": (0, 4, 7, 11), "m7": (0, 3, 7, 10),
    "m7b5": (0, 3, 6, 10), "5": (0, 7, 12), "dim": (0, 3, 6),
}
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
PENTA_MAJ = (0, 2, 4, 7, 9)
PENTA_MIN = (0, 3, 5, 7, 10)
BLUES = (0, 3, 5, 6, 7, 10)


@dataclass
class Style:
    tempo: tuple[float, float]
    swing: tuple[float, float]  # 0 straight, 1/3 triplet shuffle
    kits: tuple[int, ...]  # drum kit programs (bank 128); () = no drums
    progressions: tuple[tuple[tuple[int, str], ...], ...]  # (degree semitones, quality) per bar
    bass: tuple[int, ...]
    comp: tuple[int, ...]
    lead: tuple[int, ...]
    scale: tuple[int, ...]
    key_range: tuple[int, int] = (40, 47)  # bass root MIDI notes the key is drawn from
    extra: tuple[int, ...] = field(default=())  # pad/section instruments


I, IV, V = 0, 5, 7
STYLES: dict[str, Style] = {
    "blues": Style((66, 122), (0.22, 0.33), (0, 8, 32), (
        tuple((d, "7") for d in (I, I, I, I, IV, IV, I, I, V, IV, I, V)),  # twelve-bar
        tuple((d, "7") for d in (I, IV, I, I, IV, IV, I, I, V, IV, I, V)),  # quick-change twelve-bar
    ), bass=(32, 33, 34), comp=(0, 16, 17, 26, 27, 4), lead=(27, 29, 22, 65, 66, 26), scale=BLUES),
    "classical": Style((58, 132), (0.0, 0.0), (), (
        ((I, "maj"), (IV, "maj"), (V, "7"), (I, "maj")),
        ((I, "maj"), (9, "min"), (2, "min"), (V, "7")),
        ((I, "maj"), (V, "maj"), (9, "min"), (4, "min"), (IV, "maj"), (I, "maj"), (IV, "maj"), (V, "7")),
        ((I, "min"), (IV, "min"), (V, "7"), (I, "min")),
        ((I, "min"), (8, "maj"), (2, "dim"), (V, "7")),
    ), bass=(42, 43, 70, 0, 32), comp=(0, 6, 48, 49, 46, 40), lead=(40, 73, 68, 71, 60, 0, 41, 56), scale=MAJOR,
        key_range=(36, 48), extra=(48, 49, 52, 19)),
    "country": Style((88, 150), (0.0, 0.12), (0, 40, 8), (
        ((I, "maj"), (I, "maj"), (IV, "maj"), (IV, "maj"), (V, "maj"), (V, "maj"), (I, "maj"), (I, "maj")),
        ((I, "maj"), (IV, "maj"), (V, "maj"), (I, "maj")),
        ((I, "maj"), (I, "maj"), (V, "maj"), (V, "maj"), (IV, "maj"), (IV, "maj"), (I, "maj"), (V, "maj")),
    ), bass=(32, 33, 34), comp=(25, 24, 105, 27, 0), lead=(110, 40, 22, 27, 105, 26), scale=PENTA_MAJ),
    "disco": Style((108, 132), (0.0, 0.04), (0, 24, 8), (
        ((I, "m7"), (IV, "m7")), ((I, "m7"), (10, "7")), ((I, "maj7"), (2, "m7")),
        ((I, "m7"), (I, "m7"), (8, "maj7"), (10, "7")),
    ), bass=(33, 38, 39, 36), comp=(7, 4, 5, 27, 28), lead=(48, 49, 81, 61, 56, 50), scale=MINOR,
        extra=(48, 49, 50, 61, 62)),
    "hiphop": Style((78, 102), (0.08, 0.25), (25, 0, 8, 24), (
        ((I, "m7"), (I, "m7"), (8, "maj7"), (8, "maj7")), ((I, "min"), (3, "maj")), ((I, "m7"), (5, "m7")),
        ((I, "m7"),),
    ), bass=(38, 39, 33, 87), comp=(4, 5, 0, 11, 48, 89, 12), lead=(11, 0, 80, 73, 4, 61), scale=PENTA_MIN,
        key_range=(33, 43)),
    "jazz": Style((96, 220), (0.2, 0.33), (32, 40, 0), (
        ((2, "m7"), (V, "7"), (I, "maj7"), (I, "maj7")),
        ((I, "maj7"), (9, "7"), (2, "m7"), (V, "7")),
        ((2, "m7b5"), (V, "7"), (I, "m7"), (I, "m7")),
        ((I, "maj7"), (I, "maj7"), (5, "m7"), (10, "7"), (2, "m7"), (V, "7"), (I, "maj7"), (V, "7")),
    ), bass=(32,), comp=(0, 26, 11, 4, 1), lead=(65, 66, 64, 56, 59, 73, 11, 26, 57), scale=MAJOR),
    "metal": Style((96, 192), (0.0, 0.0), (16, 0, 17, 8), (
        ((I, "5"), (I, "5"), (1, "5"), (I, "5")), ((I, "5"), (3, "5"), (5, "5"), (1, "5")),
        ((I, "5"), (8, "5"), (10, "5"), (I, "5")), ((I, "5"), (6, "5"), (5, "5"), (3, "5")),
    ), bass=(34, 33, 35), comp=(30, 29), lead=(30, 29, 81), scale=(0, 1, 3, 5, 7, 8, 10), key_range=(28, 35)),
    "pop": Style((88, 128), (0.0, 0.06), (0, 24, 16, 8), (
        ((I, "maj"), (V, "maj"), (9, "min"), (IV, "maj")), ((9, "min"), (IV, "maj"), (I, "maj"), (V, "maj")),
        ((I, "maj"), (IV, "maj"), (9, "min"), (V, "maj")), ((IV, "maj"), (I, "maj"), (V, "maj"), (9, "min")),
    ), bass=(33, 34, 38, 39), comp=(0, 25, 88, 89, 4, 90, 27), lead=(80, 81, 53, 52, 73, 0, 11, 54), scale=PENTA_MAJ,
        extra=(88, 89, 48, 50)),
    "reggae": Style((62, 96), (0.06, 0.22), (0, 8, 32), (
        ((I, "min"), (IV, "min")), ((I, "maj"), (IV, "maj")), ((I, "maj"), (V, "maj")),
        ((I, "min"), (10, "maj"), (8, "maj"), (10, "maj")), ((I, "maj"), (I, "maj"), (IV, "maj"), (V, "maj")),
    ), bass=(33, 34, 38, 32), comp=(27, 16, 17, 26, 0, 4), lead=(22, 21, 16, 56, 65, 80), scale=PENTA_MIN,
        key_range=(33, 43)),
    "rock": Style((98, 164), (0.0, 0.05), (0, 16, 8), (
        ((I, "5"), (10, "5"), (IV, "5"), (I, "5")), ((I, "5"), (IV, "5"), (V, "5"), (IV, "5")),
        ((9, "5"), (IV, "5"), (I, "5"), (V, "5")), ((I, "5"), (I, "5"), (IV, "5"), (V, "5")),
    ), bass=(34, 33, 35), comp=(29, 30, 27, 25), lead=(29, 30, 27, 81), scale=PENTA_MIN, key_range=(38, 45)),
}

# Instruments any genre may borrow now and then, so no single program gives a genre away.
SHARED = (0, 4, 25, 27, 29, 33, 48, 65, 73, 81, 88)


class Song:
    """Notes on a 16th-note grid with swing and human timing, collected per instrument."""

    def __init__(self, rng: np.random.Generator, tempo: float, swing: float):
        self.rng, self.tempo, self.swing = rng, tempo, swing
        self.beat = 60.0 / tempo
        self.parts: dict[str, pretty_midi.Instrument] = {}

    def part(self, name: str, program: int, drum: bool = False) -> pretty_midi.Instrument:
        if name not in self.parts:
            self.parts[name] = pretty_midi.Instrument(program=int(program), is_drum=drum, name=name)
        return self.parts[name]

    def time(self, bar: int, step: float) -> float:
        """Seconds at a 16th-note step of a 4/4 bar, with swing on the off-beat 8ths."""
        beat, frac = divmod(step / 4.0, 1.0)
        mid = 0.5 + self.swing * 0.5
        frac = frac * mid / 0.5 if frac <= 0.5 else mid + (frac - 0.5) * (1 - mid) / 0.5
        return (bar * 4 + beat + frac) * self.beat

    def note(self, name, program, bar, step, pitch, length_steps, vel, drum=False):
        jitter = self.rng.normal(0, 0.006)
        start = max(0.0, self.time(bar, step) + jitter)
        end = max(start + 0.03, self.time(bar, step + length_steps) - 0.01 + jitter)
        vel = int(np.clip(vel + self.rng.normal(0, 6), 1, 127))
        pitch = int(np.clip(pitch, 0, 127))
        self.part(name, program, drum).notes.append(pretty_midi.Note(vel, pitch, start, end))

    def midi(self) -> pretty_midi.PrettyMIDI:
        pm = pretty_midi.PrettyMIDI(initial_tempo=self.tempo)
        for inst in self.parts.values():
            if inst.notes:
                pm.instruments.append(inst)
        return pm


def _pick(rng, pool, shared=SHARED, borrow=0.15):
    return int(rng.choice(shared if rng.random() < borrow else pool))


def _chord_notes(root: int, quality: str, low: int) -> list[int]:
    base = low + (root - low) % 12
    return [base + i for i in CHORD[quality]]


def _drums(song: Song, genre: str, bars: int, kit: int, rng) -> None:
    """One drum pattern per song (with variation and fills), in the genre's idiom."""
    d = lambda bar, step, note, vel: song.note("drums", kit, bar, step, note, 1, vel, drum=True)
    variant = rng.integers(3)
    for bar in range(bars):
        fill = bar % 4 == 3 and rng.random() < 0.5
        if rng.random() < 0.3 and bar % 8 == 0:
            d(bar, 0, CRASH, 100)
        if genre == "blues":
            for beat in range(4):
                d(bar, beat * 4, RIDE if variant else HAT, 80)
                d(bar, beat * 4 + 2, RIDE if variant else HAT, 60)
            d(bar, 0, KICK, 95); d(bar, 8, KICK, 85); d(bar, 4, SNARE, 95); d(bar, 12, SNARE, 100)
        elif genre == "country":
            if variant == 0:  # train beat
                for s in range(16):
                    d(bar, s, SNARE, 90 if s % 4 == 2 else 50)
            else:
                d(bar, 4, SNARE, 95); d(bar, 12, SNARE, 95)
                for s in range(0, 16, 2):
                    d(bar, s, HAT, 70)
            d(bar, 0, KICK, 100); d(bar, 8, KICK, 95)
        elif genre == "disco":
            for beat in range(4):
                d(bar, beat * 4, KICK, 110)
                d(bar, beat * 4 + 2, OPEN, 85)
            for s in (1, 3, 5, 7, 9, 11, 13, 15):
                d(bar, s, HAT, 55)
            d(bar, 4, CLAP if variant else SNARE, 100); d(bar, 12, CLAP if variant else SNARE, 100)
        elif genre == "hiphop":
            kicks = [(0, 7, 10), (0, 3, 10), (0, 8, 11, 14)][variant]
            for s in kicks:
                d(bar, s, KICK, 115)
            d(bar, 4, SNARE, 110); d(bar, 12, SNARE if variant != 1 else CLAP, 110)
            for s in range(0, 16, 1 if variant == 2 else 2):
                d(bar, s, HAT, 70 if s % 4 == 0 else 50)
        elif genre == "jazz":
            for s, v in ((0, 85), (4, 90), (7, 60), (8, 85), (12, 90), (15, 60)):
                d(bar, s, RIDE, v)
            d(bar, 4, PEDAL, 70); d(bar, 12, PEDAL, 70)
            for s in range(0, 16, 4):
                d(bar, s, KICK, 35)
            if rng.random() < 0.6:
                d(bar, int(rng.choice([3, 6, 10, 11, 14])), SNARE, 55)
        elif genre == "metal":
            step = 1 if variant == 0 else 2
            for s in range(0, 16, step):
                d(bar, s, KICK, 105)
            for s in ((4, 12) if variant != 2 else (0, 4, 8, 12)):
                d(bar, s, SNARE, 115)
            for s in range(0, 16, 4):
                d(bar, s, CRASH if variant == 2 else RIDE, 85)
        elif genre == "pop":
            for s in (0, 8) + ((6,) if variant else ()):
                d(bar, s, KICK, 105)
            d(bar, 4, SNARE if variant != 2 else CLAP, 100); d(bar, 12, SNARE if variant != 2 else CLAP, 100)
            for s in range(0, 16, 2):
                d(bar, s, HAT, 65)
            if variant == 2:
                for s in range(1, 16, 2):
                    d(bar, s, SHAKER, 50)
        elif genre == "reggae":
            d(bar, 8, KICK, 110); d(bar, 8, RIM if variant != 1 else SNARE, 100)
            if variant == 2:  # steppers
                for beat in range(4):
                    d(bar, beat * 4, KICK, 100)
            for s in range(0, 16, 2):
                d(bar, s, HAT, 60 if s % 4 else 75)
        elif genre == "rock":
            for s in (0, 8) + ((10,) if variant else ()):
                d(bar, s, KICK, 110)
            d(bar, 4, SNARE, 110); d(bar, 12, SNARE, 110)
            for s in range(0, 16, 2):
                d(bar, s, RIDE if variant == 2 else HAT, 80)
        if fill:
            for s in range(12, 16):
                d(bar, s, [TOM_H, SNARE, TOM_L, TOM_L][s - 12], 100)


def _bass(song, genre, bars, chords, program, rng):
    b = lambda bar, step, pitch, length, vel=100: song.note("bass", program, bar, step, pitch, length, vel)
    variant = rng.integers(2)
    for bar in range(bars):
        root, quality = chords[bar]
        nxt = chords[(bar + 1) % len(chords)][0]
        tones = CHORD[quality]
        if genre == "blues":
            walk = (0, 4, 7, 9, 10, 9, 7, 4)
            for k in range(8):
                b(bar, k * 2, root + walk[k], 2, 95)
        elif genre == "classical":
            for half in (0, 8):
                b(bar, half, root + (0 if half == 0 else tones[-1] - 12 * (tones[-1] > 7)), 8, 70)
        elif genre == "country":
            for s, iv in ((0, 0), (4, 7), (8, 0), (12, 7 if variant else -5)):
                b(bar, s, root + iv, 3, 95)
        elif genre == "disco":
            for s in range(0, 16, 2):
                b(bar, s, root + (12 if s % 4 == 2 else 0), 1.5, 105)
        elif genre == "hiphop":
            b(bar, 0, root, 6, 110)
            b(bar, 10, root + (tones[1] if variant else 0), 4, 100)
        elif genre == "jazz":
            for k in range(4):
                if k == 3:
                    pitch = nxt + (1 if rng.random() < 0.5 else -1)
                else:
                    pitch = root + [0, tones[1], tones[2], tones[-1]][int(rng.integers(4))] * (k > 0)
                b(bar, k * 4, pitch, 3.6, 90)
        elif genre in ("metal", "rock"):
            step = 1 if genre == "metal" and variant else 2
            for s in range(0, 16, step):
                b(bar, s, root, step * 0.9, 105)
        elif genre == "pop":
            for s in range(0, 16, 2 if variant else 4):
                b(bar, s, root + (7 if s == 12 and not variant else 0), 1.8, 95)
        elif genre == "reggae":
            figure = [(0, 0, 3), (3, 0, 1), (6, 7, 2), (10, tones[1], 2), (12, 7, 3)] if variant else \
                [(2, 0, 2), (4, 0, 2), (8, 10 if quality == "min" else 9, 2), (10, 7, 4)]
            for s, iv, length in figure:
                b(bar, s, root + iv, length, 110)


def _comp(song, genre, bars, chords, program, rng):
    low = {"classical": 55, "metal": 40, "rock": 43}.get(genre, 53)
    variant = rng.integers(2)
    for bar in range(bars):
        root, quality = chords[bar]
        notes = _chord_notes(root, quality, low)
        hits: list[tuple[float, float, int]]  # (step, length, velocity)
        if genre == "blues":
            hits = [(0, 3, 80), (6, 2, 70), (10, 4, 75)]
        elif genre == "classical":
            # Arpeggiated (Alberti-like) figure
            order = [0, 2, 1, 2] if len(notes) >= 3 else [0, 1, 0, 1]
            for s in range(0, 16, 2):
                song.note("comp", program, bar, s, notes[order[(s // 2) % 4] % len(notes)], 2, 62)
            continue
        elif genre == "country":
            hits = [(s, 1.5, 85 if s % 4 == 0 else 60) for s in range(0, 16, 2)]
        elif genre == "disco":
            hits = [(s, 0.8, 80) for s in (2, 6, 7, 10, 14, 15)] if variant else [(s, 0.8, 75) for s in range(0, 16, 2)]
        elif genre == "hiphop":
            hits = [(0, 8, 70), (8, 8, 65)] if variant else [(0, 3, 75), (6, 2, 60), (10, 6, 70)]
        elif genre == "jazz":
            notes = [n + 12 if i == 0 else n for i, n in enumerate(notes)]  # rootless-ish voicing
            hits = [(float(s), 2, 65) for s in sorted(rng.choice([0, 3, 6, 7, 10, 11, 14], 2, replace=False))]
        elif genre == "metal":
            hits = [(s, 0.7, 110) for s in range(0, 16, 1 if variant else 2)]
        elif genre == "pop":
            hits = [(0, 16, 70)] if variant else [(s, 1.8, 75) for s in range(0, 16, 2)]
        elif genre == "reggae":
            hits = [(4, 1, 90), (12, 1, 90)] if variant else [(s, 0.8, 80) for s in (2, 6, 10, 14)]
        else:  # rock
            hits = [(s, 1.8, 100) for s in range(0, 16, 2)]
        for step, length, vel in hits:
            for n in notes:
                song.note("comp", program, bar, step, n, length, vel)


def _lead(song, genre, bars, chords, program, key, scale, rng):
    """A phrase-based melody: a motif drawn once and repeated with variation, as songs do."""
    centre = key + (24 if genre in ("metal", "rock", "blues") else 36) - 12 * (program in (26, 27, 29, 30))
    pitches = [centre + o + d for o in (-12, 0, 12) for d in scale]
    pitches = sorted(p for p in pitches if centre - 7 <= p <= centre + 16)
    dens = {"jazz": 0.7, "metal": 0.6, "classical": 0.55, "blues": 0.45}.get(genre, 0.4)
    grid = 1 if genre in ("metal",) else 2
    motif = []
    idx = len(pitches) // 2
    for s in range(0, 32, grid):
        if rng.random() < dens:
            idx = int(np.clip(idx + rng.integers(-2, 3), 0, len(pitches) - 1))
            motif.append((s, idx))
    rest_bars = set(rng.choice(bars, size=bars // 3, replace=False).tolist()) if bars > 3 else set()
    for bar in range(0, bars, 2):
        shift = int(rng.integers(-1, 2)) if bar % 4 == 2 else 0
        for s, i in motif:
            b = bar + s // 16
            if b >= bars or b in rest_bars:
                continue
            p = pitches[int(np.clip(i + shift, 0, len(pitches) - 1))]
            song.note("lead", program, b, s % 16, p, grid * 0.95 if genre != "classical" else grid * 1.5, 88)


def compose(genre: str, seconds: float, rng: np.random.Generator) -> tuple[pretty_midi.PrettyMIDI, dict]:
    """One song of ``genre`` lasting at least ``seconds`` (plus a bar of lead-in); returns MIDI and its recipe."""
    st = STYLES[genre]
    tempo = float(rng.uniform(*st.tempo))
    swing = float(rng.uniform(*st.swing))
    song = Song(rng, tempo, swing)
    bars = int(np.ceil((seconds + 2.0) / (4 * song.beat))) + 1
    key = int(rng.integers(*st.key_range))
    prog = st.progressions[int(rng.integers(len(st.progressions)))]
    if genre == "classical" and rng.random() < 0.4:
        prog = tuple((r, "min" if q == "maj" and r == 0 else q) for r, q in prog)
    chords = [(key + r, q) for r, q in prog]
    chords = [chords[i % len(chords)] for i in range(bars)]
    recipe = {"genre": genre, "tempo": round(tempo, 1), "swing": round(swing, 2), "key": key}
    if st.kits:
        kit = int(rng.choice(st.kits))
        _drums(song, genre, bars, kit, rng)
        recipe["kit"] = kit
    bass = _pick(rng, st.bass, borrow=0.1)
    comp = _pick(rng, st.comp)
    lead = _pick(rng, st.lead)
    _bass(song, genre, bars, chords, bass, rng)
    _comp(song, genre, bars, chords, comp, rng)
    if rng.random() < 0.85:
        _lead(song, genre, bars, chords, lead, key, st.scale, rng)
    if st.extra and rng.random() < 0.5:  # sustained pad or string section
        pad = int(rng.choice(st.extra))
        for bar in range(bars):
            for n in _chord_notes(chords[bar][0], chords[bar][1], 60):
                song.note("pad", pad, bar, 0, n, 15.5, 55)
        recipe["pad"] = pad
    recipe.update(bass=bass, comp=comp, lead=lead)
    return song.midi(), recipe
