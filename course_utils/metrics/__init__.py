"""Metrics: accuracy, a ``compute_metrics`` for ``Trainer``, and a local ``evaluate`` metric.

``evaluate.load("accuracy")`` downloads its script from the Hub, so it fails offline.
``evaluate.load(ACCURACY)`` loads the same metric from a folder shipped inside this package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

__all__ = ["ACCURACY", "accuracy", "accuracy_by", "compute_metrics", "confusion", "load_accuracy", "report_headline"]

# Folder of the local evaluate metric; pass it to evaluate.load(...).
ACCURACY = str(Path(__file__).resolve().parent / "accuracy")


def accuracy(predictions: Sequence, references: Sequence) -> float:
    """Fraction of predictions equal to their reference (labels may be ids or names)."""
    predictions, references = np.asarray(predictions), np.asarray(references)
    if predictions.shape != references.shape:
        raise ValueError(f"{predictions.shape[0]} predictions but {references.shape[0]} references")
    if predictions.size == 0:
        raise ValueError("accuracy of zero examples is undefined")
    return float((predictions == references).mean())


def accuracy_by(groups: Sequence, predictions: Sequence, references: Sequence) -> dict:
    """Accuracy within each group (e.g. per language), sorted by group name."""
    groups, predictions, references = map(np.asarray, (groups, predictions, references))
    return {g: accuracy(predictions[groups == g], references[groups == g]) for g in sorted(set(groups.tolist()))}


def compute_metrics(eval_pred) -> dict:
    """``Trainer(compute_metrics=...)``: accuracy of the arg-max logits."""
    logits, labels = eval_pred
    if isinstance(logits, tuple):  # some models return (logits, hidden_states)
        logits = logits[0]
    return {"accuracy": accuracy(np.argmax(logits, axis=-1), labels)}


def confusion(predictions: Sequence, references: Sequence, labels: Sequence) -> np.ndarray:
    """Counts matrix: row = true label, column = predicted label, in the order of ``labels``."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for p, r in zip(predictions, references):
        matrix[index[r], index[p]] += 1
    return matrix


def load_accuracy():
    """``evaluate.load`` of the local accuracy metric (no Hub needed)."""
    import evaluate

    return evaluate.load(ACCURACY)


def report_headline(notebook: str, metric: str, value: float, **details) -> dict:
    """Record a notebook's headline figure: as JSON when ``$COURSE_REPORT_DIR`` is set, else nowhere.

    ``make course`` and the notebook tests set ``COURSE_REPORT_DIR`` to collect the figures into a
    summary table and to check them against floors. It prints nothing: the lesson has shown the
    figure, with what it measures, and this hidden cell is plumbing.
    """
    import json
    import os

    from ..hub import course_mode, course_size

    record = {"notebook": notebook, "metric": metric, "value": float(value), "mode": course_mode(),
              "size": course_size(), **details}
    folder = os.environ.get("COURSE_REPORT_DIR")
    if folder:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{notebook}.json"), "w") as f:
            json.dump(record, f, indent=2, default=str)
    return record
