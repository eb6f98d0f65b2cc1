"""course_utils.fbank: the vectorised AST filter banks give the extractor's own numbers."""

import numpy as np
import pytest
from transformers import ASTFeatureExtractor

from course_utils.fbank import fast_fbank, kaldi_fbank


def clips():
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    return [
        (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32),  # exactly max_length frames
        rng.normal(0, 0.1, 9000).astype(np.float32),  # shorter: zero-padded frames
        rng.normal(0, 0.05, 30000).astype(np.float32),  # longer: truncated
        np.zeros(400, dtype=np.float32),  # one frame of silence: the mel floor
    ]


@pytest.mark.parametrize("mels,max_length,normalize", [(128, 1024, True), (64, 100, True), (64, 100, False)])
def test_same_numbers_as_the_extractor(mels, max_length, normalize):
    ex = ASTFeatureExtractor(num_mel_bins=mels, max_length=max_length, do_normalize=normalize)
    want = ex(clips(), sampling_rate=16000, return_tensors="np")["input_values"]
    got = kaldi_fbank(ex, clips())
    assert got.shape == want.shape == (4, max_length, mels)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    fast = fast_fbank(ASTFeatureExtractor(num_mel_bins=mels, max_length=max_length, do_normalize=normalize))
    np.testing.assert_allclose(fast(clips(), sampling_rate=16000, return_tensors="np")["input_values"], want, rtol=1e-4, atol=1e-4)


def test_too_short_a_clip_is_named():
    ex = ASTFeatureExtractor(num_mel_bins=64, max_length=100)
    with pytest.raises(ValueError, match="clip 1 has 100 samples"):
        kaldi_fbank(ex, [np.zeros(16000), np.zeros(100)])


def test_fast_extractor_saves_and_prints_like_the_stock_one(tmp_path):
    """The notebook displays it and a pipeline may save it: config, repr and reload are unchanged."""
    stock = ASTFeatureExtractor(num_mel_bins=64, max_length=100)
    fast = fast_fbank(ASTFeatureExtractor(num_mel_bins=64, max_length=100))
    assert fast_fbank(fast) is fast and isinstance(fast, ASTFeatureExtractor)
    assert repr(fast) == repr(stock) and fast.to_dict() == stock.to_dict()
    fast.save_pretrained(tmp_path)
    again = ASTFeatureExtractor.from_pretrained(tmp_path)
    assert type(again) is ASTFeatureExtractor and again.to_dict() == stock.to_dict()
