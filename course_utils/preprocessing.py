"""Turning clips into model inputs, for fine-tuning and for long files.

Fine-tuning decodes on the fly: ``AudioPreprocessor`` decodes each clip with ``load_audio`` at the
feature extractor's rate, truncates it to ``max_seconds``, runs the feature extractor (which
normalises), and drops a clip that cannot be decoded: logged once by its identifier, counted,
and training carries on. When more than ``max_fraction`` of the clips fail, it stops with
``TooManyBadClips``, because then the data, not one file, is broken.

Use it in any of three ways, all on a dataset whose audio column is left undecoded (a corrupt
clip would otherwise raise inside ``datasets`` before our code sees it)::

    prep = AudioPreprocessor(feature_extractor, label_column="genre", id_column="file", max_seconds=30)
    train = undecoded(ds["train"])                 # 1. Trainer(..., data_collator=prep.collate,
                                                   #    args with remove_unused_columns=False)
    train = with_preprocessing(ds["train"], prep)  # 2. on-the-fly transform + prep.collate
    enc = undecoded(ds).map(prep, batched=True, remove_columns=ds["train"].column_names)  # 3. eager

``filter_decodable`` drops undecodable rows ahead of time instead. ``classify_long`` classifies a
file of any length by streaming it in model-sized chunks.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import soundfile as sf

from .audio import AudioDecodeError, describe_source, load_audio

__all__ = [
    "AudioPreprocessor",
    "SkipLog",
    "TooManyBadClips",
    "classify_long",
    "filter_decodable",
    "iter_chunks",
    "model_input_seconds",
    "undecoded",
    "with_preprocessing",
]

log = logging.getLogger(__name__)

MIN_INPUT_SECONDS = 0.1  # shorter clips are padded with silence before classification


class TooManyBadClips(RuntimeError):
    """More than the allowed fraction of clips could not be decoded."""


class SkipLog:
    """Counts undecodable clips, logs each identifier once, and stops when too many fail.

    The fraction is judged once ``min_seen`` clips have been seen (or at ``finish``), so that
    one bad clip among the first few does not stop a large dataset. With DataLoader worker
    processes each worker keeps its own counts (and logs a bad clip once per worker).
    """

    def __init__(self, max_fraction: float = 0.1, min_seen: int = 50):
        if not 0 <= max_fraction < 1:
            raise ValueError(f"max_fraction must be in [0, 1), got {max_fraction}")
        self.max_fraction = max_fraction
        self.min_seen = min_seen
        self.seen = 0
        self.failed = 0
        self.bad: dict[str, str] = {}  # identifier -> problem, in the order met

    def ok(self) -> None:
        self.seen += 1
        self._check(self.seen >= self.min_seen)

    def fail(self, ident: Any, error: AudioDecodeError) -> None:
        self.seen += 1
        self.failed += 1
        ident = str(ident)
        if ident not in self.bad:
            self.bad[ident] = error.problem
            log.warning("skipping undecodable clip %s: %s", ident, error.problem)
        self._check(self.seen >= self.min_seen)

    def finish(self, total: int | None = None) -> None:
        """The final verdict, over ``total`` clips (default: those seen)."""
        self._check(True, total)

    def _check(self, judge: bool, total: int | None = None) -> None:
        total = self.seen if total is None else total
        if judge and total and self.failed > self.max_fraction * total:
            first = next(iter(self.bad.items()), ("?", "?"))
            raise TooManyBadClips(
                f"{self.failed} of {total} clips ({self.failed / total:.1%}) could not be decoded, "
                f"more than max_fraction={self.max_fraction:.1%}; the data set looks broken "
                f"(first: {first[0]}: {first[1]})"
            )

    def __repr__(self) -> str:
        return f"SkipLog(seen={self.seen}, failed={self.failed}, bad={list(self.bad)})"


def undecoded(dataset, column: str = "audio"):
    """``dataset`` with ``column`` cast to ``Audio(decode=False)``: rows hold ``{"bytes", "path"}``."""
    from datasets import Audio

    feature = dataset.features[column]
    return dataset.cast_column(column, Audio(sampling_rate=getattr(feature, "sampling_rate", None), decode=False))


def with_preprocessing(dataset, preprocessor: "AudioPreprocessor"):
    """The on-the-fly fine-tuning dataset: undecoded audio, ``preprocessor`` applied per batch."""
    return undecoded(dataset, preprocessor.audio_column).with_transform(preprocessor)


class AudioPreprocessor:
    """Decode, truncate and extract features for a batch, dropping clips that cannot be decoded.

    ``__call__(batch)`` maps a batch (dict of lists) to model inputs plus ``labels``: for
    ``with_transform`` or ``map(batched=True)``. ``collate(rows)`` is a Trainer data collator; it
    accepts raw rows or rows already preprocessed, and pads. ``skips`` holds the counts.
    """

    def __init__(
        self,
        feature_extractor,
        *,
        audio_column: str = "audio",
        label_column: str | None = "label",
        id_column: str | None = None,
        max_seconds: float | None = None,
        max_fraction: float = 0.1,
        min_seen: int = 50,
        extractor_kwargs: dict | None = None,
    ):
        self.feature_extractor = feature_extractor
        self.sampling_rate = int(feature_extractor.sampling_rate)
        self.audio_column = audio_column
        self.label_column = label_column
        self.id_column = id_column
        self.max_seconds = max_seconds
        self.extractor_kwargs = dict(extractor_kwargs or {})
        self.input_name = feature_extractor.model_input_names[0]
        self.skips = SkipLog(max_fraction, min_seen)
        self._last_good: list[dict] | None = None

    def decode(self, value: Any, ident: Any = None) -> np.ndarray | None:
        """One clip at the model's rate, or None (logged and counted) if it cannot be decoded."""
        try:
            array = load_audio(value, self.sampling_rate, max_seconds=self.max_seconds)
        except AudioDecodeError as error:
            self.skips.fail(ident if ident is not None else error.source, error)
            return None
        self.skips.ok()
        return array

    def __call__(self, batch: dict[str, list]) -> dict[str, list]:
        values = batch[self.audio_column]
        ids = batch.get(self.id_column) if self.id_column else None
        labels = batch.get(self.label_column) if self.label_column else None
        arrays, kept = [], []
        for i, value in enumerate(values):
            array = self.decode(value, ids[i] if ids is not None else describe_source(value))
            if array is not None:
                arrays.append(array)
                kept.append(i)
        out: dict[str, list] = {self.input_name: []}
        if arrays:
            features = self.feature_extractor(arrays, sampling_rate=self.sampling_rate, **self.extractor_kwargs)
            out = {key: list(value) for key, value in features.items()}
        if labels is not None:
            out["labels"] = [labels[i] for i in kept]
        return out

    def collate(self, rows: list[dict]) -> dict:
        """Pad a batch of rows into tensors; raw rows are preprocessed first."""
        import torch

        if rows and self.audio_column in rows[0]:
            batch = {key: [row[key] for row in rows] for key in rows[0]}
            features = self(batch)
            rows = [dict(zip(features, values)) for values in zip(*features.values())]
        if not rows:
            # Every clip of this batch was undecodable (only likely with batch size 1): repeat
            # the last good example so the training step still has an input.
            if self._last_good is None:
                raise TooManyBadClips("the first batch held no decodable clip; nothing to train on")
            rows = self._last_good
        self._last_good = rows[:1]
        labels = [row["labels"] for row in rows] if "labels" in rows[0] else None
        inputs = [{k: v for k, v in row.items() if k != "labels"} for row in rows]
        if hasattr(self.feature_extractor, "pad"):
            batch = self.feature_extractor.pad(inputs, return_tensors="pt")
        else:
            batch = {k: torch.as_tensor(np.stack([row[k] for row in inputs])) for k in inputs[0]}
        if labels is not None:
            batch["labels"] = torch.as_tensor(labels)
        return batch


def filter_decodable(
    dataset,
    column: str = "audio",
    id_column: str | None = None,
    max_fraction: float = 0.1,
    *,
    max_seconds: float | None = None,
):
    """``dataset`` without the rows whose audio cannot be decoded (each logged once, by ``id_column``).

    Raises ``TooManyBadClips`` as soon as more than ``max_fraction`` of all rows have failed.
    ``max_seconds`` checks only the start of each clip (faster, misses a file broken later on).
    """
    columns = [column] + ([id_column] if id_column else [])
    raw = undecoded(dataset.select_columns(columns), column)
    total = len(raw)
    skips = SkipLog(max_fraction, min_seen=total)
    keep = []
    for i, row in enumerate(raw):
        ident = row[id_column] if id_column else describe_source(row[column])
        try:
            load_audio(row[column], None, max_seconds=max_seconds)
        except AudioDecodeError as error:
            skips.fail(ident, error)
            if skips.failed > max_fraction * total:  # no need to read the rest
                skips.finish(total)
            continue
        skips.ok()
        keep.append(i)
    skips.finish(total)
    if skips.failed:
        log.warning("filter_decodable: dropped %d of %d rows that could not be decoded", skips.failed, total)
        return dataset.select(keep)
    return dataset


# --- long files --------------------------------------------------------------------------------


def model_input_seconds(feature_extractor) -> float | None:
    """How many seconds one fixed-length model input holds, when the feature extractor fixes it."""
    if getattr(feature_extractor, "chunk_length", None):  # Whisper: 30 s
        return float(feature_extractor.chunk_length)
    if type(feature_extractor).__name__ == "ASTFeatureExtractor":  # max_length frames of 10 ms
        return feature_extractor.max_length * 0.01
    return None


def iter_chunks(
    source: Any,
    sampling_rate: int,
    chunk_seconds: float,
    *,
    max_seconds: float | None = None,
) -> Iterator[tuple[float, np.ndarray]]:
    """Yield ``(start_seconds, mono float32 chunk at sampling_rate)`` through ``source``.

    A file is read a chunk at a time (libsndfile, else FFmpeg seeking), so memory stays at one
    chunk however long the file; other sources are decoded whole (up to ``max_seconds``) and sliced.
    """
    if chunk_seconds <= 0:
        raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds}")
    label = describe_source(source)
    if not isinstance(source, (str, os.PathLike)):
        array = load_audio(source, sampling_rate, max_seconds=max_seconds)
        step = int(round(chunk_seconds * sampling_rate))
        for start in range(0, len(array), step):
            yield start / sampling_rate, array[start : start + step]
        return
    # A 10-ms decode raises the same clear errors as load_audio (missing, empty, not audio ...).
    load_audio(source, None, max_seconds=0.01)
    end = float("inf") if max_seconds is None else max_seconds
    for start, block, rate in _file_blocks(Path(source), chunk_seconds, end, label):
        yield start, load_audio((block, rate), sampling_rate, name=f"{label} at {start:.1f} s")


def _file_blocks(path: Path, chunk_seconds: float, end: float, label: str):
    try:
        handle = sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError):
        handle = None
    if handle is not None:
        with handle:
            rate = handle.samplerate
            step, limit, done = int(round(chunk_seconds * rate)), end * rate, 0
            while done < limit:
                block = handle.read(frames=int(min(step, limit - done)), dtype="float32", always_2d=True)
                if len(block) == 0:
                    return
                yield done / rate, block.mean(axis=1, dtype=np.float32), rate
                done += len(block)
        return
    from torchcodec.decoders import AudioDecoder

    decoder = AudioDecoder(str(path))
    duration = decoder.metadata.duration_seconds or float("inf")
    begin = decoder.metadata.begin_stream_seconds or 0.0  # MP3: the encoder delay
    start = 0.0
    while start < min(duration, end):
        stop = min(start + chunk_seconds, end)
        try:
            samples = decoder.get_samples_played_in_range(begin + start, begin + stop)
        except Exception as error:  # past the real end when the header's duration was wrong
            if start > 0 and "No audio frames" in str(error):
                return
            raise AudioDecodeError(label, f"decoding failed at {start:.1f} s: {str(error).splitlines()[0]}") from None
        yield start, samples.data.numpy().mean(axis=0, dtype=np.float32), int(samples.sample_rate)
        start = stop


def classify_long(
    classifier,
    source: Any,
    *,
    chunk_seconds: float | None = None,
    max_seconds: float | None = None,
    top_k: int | None = 5,
    min_chunk_seconds: float = 1.0,
    return_chunks: bool = False,
):
    """Classify audio of any length: the mean of the scores of its chunks, weighted by duration.

    An audio-classification model sees a fixed length (AST 10.24 s, Whisper 30 s) and silently
    truncates the rest; here each ``chunk_seconds`` (default: the model's input length, else 10 s)
    is classified and the scores averaged. ``max_seconds`` stops early (an explained truncation).
    A final chunk shorter than ``min_chunk_seconds`` is ignored unless it is the only one.
    Returns ``[{"label", "score"}, ...]`` best first; with ``return_chunks`` also the per-chunk
    ``[{"start", "seconds", "top": {label, score}}]``.
    """
    extractor = classifier.feature_extractor
    rate = int(extractor.sampling_rate)
    chunk_seconds = chunk_seconds or model_input_seconds(extractor) or 10.0
    totals: dict[str, float] = {}
    weight = 0.0
    chunks = []
    for start, array in iter_chunks(source, rate, chunk_seconds, max_seconds=max_seconds):
        seconds = len(array) / rate
        if seconds < min_chunk_seconds and chunks:
            continue
        if len(array) < MIN_INPUT_SECONDS * rate:
            # Feature extractors fail on a clip shorter than their window (AST: "negative
            # dimensions" under 25 ms); silence after it changes nothing it contains.
            array = np.pad(array, (0, int(MIN_INPUT_SECONDS * rate) - len(array)))
        scores = classifier({"raw": array, "sampling_rate": rate}, top_k=None)
        for item in scores:
            totals[item["label"]] = totals.get(item["label"], 0.0) + item["score"] * seconds
        weight += seconds
        chunks.append({"start": start, "seconds": seconds, "top": scores[0]})
    if not chunks:
        raise AudioDecodeError(describe_source(source), "no audio to classify")
    ranked = sorted(({"label": k, "score": v / weight} for k, v in totals.items()), key=lambda d: -d["score"])
    ranked = ranked if top_k is None else ranked[:top_k]
    return (ranked, chunks) if return_chunks else ranked
