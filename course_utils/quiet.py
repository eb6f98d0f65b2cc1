"""``quiet_logs()``: the library messages a learner can do nothing about, silenced in one place.

Each line says what it hides and why; everything else (errors, warnings about your own code,
training progress bars) still shows.
"""

from __future__ import annotations

import warnings


def quiet_logs() -> None:
    """Hide the Hugging Face libraries' routine messages (call once, in a lesson's first cell)."""
    # We loop over a few clips on purpose; the pipeline suggests a Dataset instead.
    warnings.filterwarnings("ignore", message=".*pipelines sequentially on GPU.*")
    # The pipeline's note about iterable inputs and DataLoader workers.
    warnings.filterwarnings("ignore", message=".*num_workers>1.*")
    # Deprecation notes addressed to library authors, not to a learner's code.
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    import datasets
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # info lines such as "Device set to use cpu"
    hf_logging.disable_progress_bar()  # a "Loading weights" bar per file (training keeps its own bar)
    datasets.disable_progress_bars()  # a "Generating split" bar per small parquet file
