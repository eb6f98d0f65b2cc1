"""course_utils: the helper package of the audio-classification course.

One module per responsibility:

- ``audio``         loading and decoding (``load_audio``, ``AudioDecodeError``)
- ``display``       playback and plots (players, waveforms, spectrograms, confusion matrices, top-k)
- ``preprocessing`` turning clips into model inputs for fine-tuning
- ``training``      training presets (``TrainingArguments`` that fit the hardware)
- ``metrics``       accuracy, ``compute_metrics``, a local ``evaluate`` metric
- ``hub``           which world the lessons run in: the Hub, or the local Hub of stand-ins
- ``quiet``         ``quiet_logs``: routine library messages, silenced in one place
- ``sizing``        will a real checkpoint fit this machine? (``plan_inference``, ``plan_training``)
- ``cgroups``       a container's memory limit and CPU quota
- ``doctor``        environment checks with a fix for each problem
"""

from .audio import AudioDecodeError, load_audio, resample, to_pipeline_input
from .hub import World, course_mode, course_size, data_dir, start_world
from .quiet import quiet_logs

__all__ = [
    "AudioDecodeError",
    "World",
    "course_mode",
    "course_size",
    "data_dir",
    "load_audio",
    "quiet_logs",
    "resample",
    "start_world",
    "to_pipeline_input",
]
__version__ = "0.1.0"
