"""The gradio demo that ends the GTZAN fine-tuning notebook: a listening grid and a classifier.

``build_demo(classifier, dataset)`` gives a ``gr.Blocks`` with two tabs: "Listen", the published
course's grid of random clips with their genres, and "Classify", an upload/microphone input whose
genre scores appear in a ``gr.Label``. ``launch_demo(demo)`` serves it safely: on 127.0.0.1 only,
no public share link unless asked, no analytics, uploads capped in size, without blocking the
notebook. A non-audio, unsupported or oversized upload answers with a clear message, and the
server keeps serving.

    demo = build_demo(classifier, dataset=gtzan["train"], label_column="genre")
    url = launch_demo(demo)       # http://127.0.0.1:7860/
    demo.close()
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np

# gradio reads this when it builds and launches; set before the import so nothing phones home.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

import gradio as gr  # noqa: E402

from .audio import AudioDecodeError, load_audio  # noqa: E402
from .preprocessing import classify_long  # noqa: E402

__all__ = ["ACCEPTED_TYPES", "MAX_FILE_SIZE", "build_demo", "classify_file", "launch_demo"]

ACCEPTED_TYPES = (".wav", ".mp3", ".flac", ".ogg", ".opus", ".m4a", ".webm", ".aac")
MAX_FILE_SIZE = 20 * 1024 * 1024  # bytes: a 2-minute WAV at 44.1 kHz, a 10-minute MP3
MAX_SECONDS = 30.0  # of an upload that is classified (GTZAN clips are 30 s)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.0f} KB"


def classify_file(
    classifier,
    path: str | None,
    *,
    max_file_size: int = MAX_FILE_SIZE,
    max_seconds: float = MAX_SECONDS,
    accepted: tuple[str, ...] = ACCEPTED_TYPES,
    top_k: int = 5,
) -> dict[str, float]:
    """Scores ``{label: probability}`` for one uploaded or recorded file; ``gr.Error`` otherwise.

    Longer recordings are classified in chunks over their first ``max_seconds`` (said in the UI).
    """
    if not path:
        raise gr.Error("No audio: upload a file or record with the microphone first.")
    name = Path(path).name
    if Path(path).suffix.lower() not in accepted:
        raise gr.Error(f"{name}: not an accepted audio type (accepted: {', '.join(accepted)}).")
    size = os.path.getsize(path)
    if size > max_file_size:
        raise gr.Error(f"{name}: {_size(size)} is larger than the {_size(max_file_size)} upload limit.")
    try:
        ranked = classify_long(classifier, path, max_seconds=max_seconds, top_k=top_k)
    except AudioDecodeError as error:
        raise gr.Error(f"{name}: cannot be read as audio ({error.problem}).") from None
    return {d["label"]: float(d["score"]) for d in ranked}


def _listening_grid(dataset, n_clips: int, label_column: str, audio_column: str, seconds: float, seed: int):
    """``n_clips`` random decodable clips of ``dataset`` as ``(label, (rate, int16 array))``."""
    from datasets import Audio

    names = getattr(dataset.features[label_column], "int2str", None)
    raw = dataset.cast_column(audio_column, Audio(decode=False))  # a corrupt clip is skipped, not fatal
    order = list(range(len(raw)))
    random.Random(seed).shuffle(order)
    clips = []
    rate = getattr(dataset.features[audio_column], "sampling_rate", None) or 16000
    for i in order:
        row = raw[i]
        try:
            array = load_audio(row[audio_column], rate, max_seconds=seconds)
        except AudioDecodeError:
            continue
        label = row[label_column]
        clips.append((names(label) if names else str(label), (rate, _int16(array))))
        if len(clips) == n_clips:
            break
    return clips


def _int16(array: np.ndarray) -> np.ndarray:
    # gradio would convert float audio itself, with a warning; clip first so loud clips do not wrap.
    return (np.clip(array, -1.0, 1.0) * 32767).astype(np.int16)


def build_demo(
    classifier,
    dataset=None,
    *,
    label_column: str = "genre",
    audio_column: str = "audio",
    n_clips: int = 4,
    clip_seconds: float = 10.0,
    seed: int = 0,
    title: str = "Music genre classification",
    max_file_size: int = MAX_FILE_SIZE,
    max_seconds: float = MAX_SECONDS,
    accepted: tuple[str, ...] = ACCEPTED_TYPES,
) -> gr.Blocks:
    """The demo: a listening grid of ``dataset`` (if given) and an upload/microphone classifier."""

    def classify(path):
        try:
            return classify_file(
                classifier, path, max_file_size=max_file_size, max_seconds=max_seconds, accepted=accepted
            )
        except gr.Error:
            raise
        except Exception as error:  # anything else is still one failed request, not a dead server
            raise gr.Error(f"Could not classify {Path(path).name}: {type(error).__name__}: {error}") from None

    with gr.Blocks(title=title, analytics_enabled=False) as demo:
        gr.Markdown(f"# {title}")
        if dataset is not None:
            with gr.Tab("Listen"):
                gr.Markdown(f"{n_clips} random clips from the data set, with their labels (first {clip_seconds:g} s).")
                clips = _listening_grid(dataset, n_clips, label_column, audio_column, clip_seconds, seed)
                with gr.Row():
                    for label, value in clips:
                        gr.Audio(value=value, label=label, interactive=False)
        with gr.Tab("Classify"):
            gr.Markdown(
                f"Upload a file ({', '.join(accepted)}; at most {_size(max_file_size)}) or record one. "
                f"The first {max_seconds:g} s are classified, in model-sized chunks whose scores are averaged."
            )
            audio = gr.Audio(sources=["upload", "microphone"], type="filepath", label="Audio")
            button = gr.Button("Classify", variant="primary")
            label = gr.Label(num_top_classes=5, label="Prediction")
            button.click(classify, inputs=audio, outputs=label, api_name="classify")
    demo.max_file_size_bytes = max_file_size  # read by launch_demo
    return demo


def launch_demo(
    demo: gr.Blocks,
    *,
    server_name: str = "127.0.0.1",
    server_port: int | None = None,
    share: bool = False,
    max_file_size: int | None = None,
    prevent_thread_lock: bool = True,
    quiet: bool = True,
    **kwargs: Any,
) -> str:
    """Serve ``demo`` on loopback without blocking the notebook; returns its local URL.

    ``share=True`` (a public gradio.live link) and ``server_name="0.0.0.0"`` (every network
    interface) are opt-in: anyone who can reach them can use your machine through the demo.
    Stop it with ``demo.close()``.
    """
    if max_file_size is None:
        max_file_size = getattr(demo, "max_file_size_bytes", MAX_FILE_SIZE)
    _, local_url, _ = demo.launch(
        server_name=server_name,
        server_port=server_port,
        share=share,
        max_file_size=max_file_size,
        prevent_thread_lock=prevent_thread_lock,
        quiet=quiet,
        show_error=True,  # an unexpected error's message reaches the browser too
        **kwargs,
    )
    return local_url
