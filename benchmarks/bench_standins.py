"""Speed of the stand-in builds' feature caching: the vectorised extractors against the
transformers feature extractors they reproduce (same numbers, see tests/test_standins.py).

    python benchmarks/bench_standins.py [--clips 200]

Prints clips/s for each and the speed-up, and the largest difference between the two outputs.
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _rate(fn, clips) -> tuple[float, np.ndarray]:
    start = time.process_time()
    out = fn(clips)
    return len(clips) / max(time.process_time() - start, 1e-9), out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=200)
    n = parser.parse_args().clips

    from transformers import ASTFeatureExtractor, ClapFeatureExtractor

    from course_offline.builders import model_clap
    from course_utils.fbank import kaldi_fbank
    from course_utils.training import configure_threads

    configure_threads(1)
    rng = np.random.default_rng(0)
    speech = [rng.standard_normal(16000).astype(np.float32) * 0.1 for _ in range(n)]
    ast = ASTFeatureExtractor(num_mel_bins=64, max_length=100)
    slow, ref = _rate(lambda c: ast(c, sampling_rate=16000, return_tensors="np")["input_values"], speech)
    fast, mine = _rate(lambda c: kaldi_fbank(ast, c), speech)
    print(f"AST fbank (1-s clips): extractor {slow:.0f} clips/s, vectorised {fast:.0f} clips/s, "
          f"x{fast / slow:.1f}; max |diff| {np.abs(ref - mine).max():.2e}")

    sounds = [rng.standard_normal(48000 * 5).astype(np.float32) * 0.1 for _ in range(max(n // 4, 8))]
    clap = ClapFeatureExtractor(**model_clap.FRONT)
    slow, ref = _rate(lambda c: clap(c, sampling_rate=48000, return_tensors="np")["input_features"], sounds)
    fast, mine = _rate(lambda c: model_clap.mel_features(clap, c), sounds)
    print(f"CLAP mel (5-s clips): extractor {slow:.0f} clips/s, vectorised {fast:.0f} clips/s, "
          f"x{fast / slow:.1f}; max |diff| {np.abs(ref - mine).max():.2e}")


if __name__ == "__main__":
    main()
