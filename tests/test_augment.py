"""Training-time augmentation of cached log-band features (the Wav2Vec2 stand-in's recipe)."""

from __future__ import annotations

import torch

from course_utils.builders.model_common import LOG_BANDS, augment_log_bands


def _batch(b=3, t=40):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(b, t, 2 * LOG_BANDS, generator=g)
    mask = torch.ones(b, t, dtype=torch.long)
    mask[1, 30:] = 0
    x[1, 30:] = 0
    return x, mask


def test_no_augmentation_is_the_identity():
    x, mask = _batch()
    y, m = augment_log_bands(x, mask)
    assert torch.equal(y, x) and torch.equal(m, mask)


def test_same_seed_same_augmentation_and_shapes_kept():
    x, mask = _batch()
    kw = dict(band_shift=2.0, speed=0.1, time_masks=(2, 5), band_masks=(2, 3))
    torch.manual_seed(1)
    a = augment_log_bands(x, mask, **kw)
    torch.manual_seed(1)
    b = augment_log_bands(x, mask, **kw)
    torch.manual_seed(2)
    c = augment_log_bands(x, mask, **kw)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    assert a[0].shape == x.shape and a[1].shape == mask.shape


def test_masks_zero_whole_stretches_and_speed_moves_the_end_of_a_clip():
    x, mask = _batch()
    torch.manual_seed(0)
    y, _ = augment_log_bands(x, mask, band_masks=(1, 4))
    zero_bands = (y[..., :LOG_BANDS] == 0).all(1)  # (batch, bands) zeroed over every frame
    assert zero_bands.sum(1).le(4).all() and zero_bands.any()
    x, mask = _batch(b=32)
    torch.manual_seed(0)
    y, m = augment_log_bands(x, mask, speed=0.3)
    assert (m.sum(1) < mask.sum(1)).any()  # sped-up clips end earlier ...
    assert (m.sum(1) <= mask.sum(1) * 1.35).all()  # ... slowed ones never beyond exp(0.3) longer
    assert (y * (1 - m)[..., None] == 0).all()  # frames past the new end are padding
