"""Metrics against hand-computed answers, and the local evaluate metric offline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from course_utils import metrics


def test_accuracy_and_groups():
    assert metrics.accuracy([1, 2, 3, 4], [1, 2, 0, 0]) == 0.5
    assert metrics.accuracy(["dog", "cat"], ["dog", "dog"]) == 0.5
    by = metrics.accuracy_by(["fr", "fr", "de"], [1, 0, 1], [1, 1, 1])
    assert by == {"de": 1.0, "fr": 0.5}
    with pytest.raises(ValueError, match="zero examples"):
        metrics.accuracy([], [])
    with pytest.raises(ValueError, match="3 predictions but 2 references"):
        metrics.accuracy([1, 2, 3], [1, 2])


def test_compute_metrics_takes_argmax_of_logits():
    logits = np.array([[0.1, 0.9], [2.0, -1.0], [0.0, 1.0]])
    assert metrics.compute_metrics((logits, np.array([1, 0, 0]))) == {"accuracy": pytest.approx(2 / 3)}
    assert metrics.compute_metrics(((logits, None), np.array([1, 0, 1]))) == {"accuracy": 1.0}


def test_confusion_rows_are_truth():
    m = metrics.confusion(["a", "b", "b"], ["a", "a", "b"], labels=["a", "b"])
    assert m.tolist() == [[1, 1], [0, 1]]


def test_local_evaluate_metric_works_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    acc = metrics.load_accuracy()
    assert acc.compute(predictions=[0, 1, 1, 2], references=[0, 1, 2, 2]) == {"accuracy": 0.75}
    weighted = acc.compute(predictions=[0, 1], references=[0, 0], sample_weight=[3, 1])
    assert weighted["accuracy"] == 0.75


def test_report_headline_writes_json(offline, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_REPORT_DIR", str(tmp_path / "reports"))
    metrics.report_headline("03_lid", "accuracy", 0.8766, n=40)
    assert capsys.readouterr().out == ""  # plumbing: the lesson has shown the figure already
    record = json.loads((tmp_path / "reports" / "03_lid.json").read_text())
    assert record == {"notebook": "03_lid", "metric": "accuracy", "value": 0.8766, "mode": "offline",
                      "size": "tiny", "n": 40}
