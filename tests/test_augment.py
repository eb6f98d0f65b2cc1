"""Training-time augmentation of cached features: the Wav2Vec2 stand-in's log bands and the CLAP
stand-in's log-mel."""

from __future__ import annotations

import torch

from course_offline.builders.model_common import LOG_BANDS, augment_log_bands


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


def _clap_augment(batch, **augment):
    from course_offline.builders.model_clap import AudioToText

    wrapper = AudioToText(torch.nn.Identity(), torch.zeros(3, 4), augment)
    soft = torch.eye(3)[[0, 1, 2, 0]]
    return wrapper._augment(batch, soft)


def _mel_batch():
    g = torch.Generator().manual_seed(0)
    return torch.rand(4, 1, 60, 16, generator=g) * 80 - 100  # (clips, 1, frames, mel bins), dB


def test_clap_shifts_move_whole_clips_and_keep_their_labels():
    x = _mel_batch()
    torch.manual_seed(0)
    y, soft = _clap_augment(x, time_shift=True)
    assert torch.equal(soft, torch.eye(3)[[0, 1, 2, 0]])
    for i in range(len(x)):  # each clip is the original rolled in time
        assert any(torch.equal(y[i], torch.roll(x[i], k, 1)) for k in range(60))
    torch.manual_seed(0)
    y, _ = _clap_augment(x, mel_shift=2)
    for i in range(len(x)):  # each clip moved by -2..2 bins, the edge bin repeated
        idx = [torch.arange(16).sub(k).clamp(0, 15) for k in range(-2, 3)]
        assert any(torch.equal(y[i], x[i][..., j]) for j in idx)


def test_clap_masks_set_one_stretch_to_the_floor():
    x = _mel_batch()
    for key, axis in (("time_mask", 2), ("mel_mask", 3)):
        torch.manual_seed(1)
        y, _ = _clap_augment(x, **{key: 5})
        changed = y != x
        assert changed.any()
        for i in range(len(x)):
            floor = x[i].min()
            assert (y[i][changed[i]] == floor).all()
            hit = changed[i].any(dim=[d for d in (0, 1, 2) if d != axis - 1])  # masked frames or bins
            where = hit.nonzero().flatten()
            if len(where):  # one contiguous stretch, at most 5 wide, across the whole other axis
                assert where[-1] - where[0] + 1 == len(where) <= 5
                assert (y[i].movedim(axis - 1, 0)[where] == floor).all()
    torch.manual_seed(1)
    a = _clap_augment(x, time_shift=True, mel_shift=2, time_mask=50, mel_mask=4)[0]
    torch.manual_seed(1)
    b = _clap_augment(x, time_shift=True, mel_shift=2, time_mask=50, mel_mask=4)[0]
    assert torch.equal(a, b) and a.shape == x.shape


def test_ast_shifts_a_batch_as_it_shifts_each_item():
    """``ShiftedFeatures.__getitems__`` (what the DataLoader calls) draws the same shifts in the same
    order and gives the same values as ``__getitem__`` item by item: the same seed, the same model."""
    import numpy as np

    from course_offline.builders.model_ast import ShiftedFeatures

    rng = np.random.default_rng(0)
    cols = {"input_values": rng.standard_normal((50, 30, 16)).astype(np.float32), "labels": rng.integers(0, 5, 50)}
    data = ShiftedFeatures(cols, time=10, mel=3)
    batches = [rng.permutation(50)[:16].tolist() for _ in range(20)]
    torch.manual_seed(0)
    one_by_one = [[data[i] for i in b] for b in batches]
    state = torch.get_rng_state()
    torch.manual_seed(0)
    at_once = [data.__getitems__(b) for b in batches]
    assert torch.equal(torch.get_rng_state(), state)
    shifted = 0
    for items, batch, b in zip(one_by_one, at_once, batches):
        for item, row, i in zip(items, batch, b):
            assert torch.equal(item["input_values"], row["input_values"]) and int(row["labels"]) == cols["labels"][i]
            shifted += not torch.equal(row["input_values"], torch.as_tensor(cols["input_values"][i]))
    assert shifted > 250  # most of the 320 items moved (both shift ranges include 0)


def test_interpolation_fast_paths_equal_the_general_gather():
    """``_interp`` moves whole frames with a row gather and shares weights across broadcast axes;
    both must give exactly what the general gather at the full shape gives."""
    from course_offline.builders.model_common import _interp

    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 50, 2 * LOG_BANDS, generator=g)
    frames = torch.arange(50.0)[None] * torch.empty(4, 1).uniform_(0.8, 1.2, generator=g)  # a speed change
    bands = torch.arange(float(LOG_BANDS))[None, None] + torch.empty(4, 1, 1).uniform_(-2, 2, generator=g)
    assert torch.equal(_interp(x, frames[..., None], 1), _interp(x, frames[..., None].expand(4, 50, 2 * LOG_BANDS).clone(), 1))
    grouped = x.reshape(4, 50, 2, LOG_BANDS)
    assert torch.equal(_interp(grouped, bands[:, :, None], 3),
                       _interp(grouped, bands[:, :, None].expand(4, 50, 2, LOG_BANDS).clone(), 3))


def test_whisper_warps_a_batch_as_it_warps_each_row():
    """``_MelWarpDataset.__getitems__`` draws the same warps (numpy's seeded generator) and gives
    the same values as ``__getitem__`` row by row."""
    import numpy as np

    from course_offline.builders.model_whisper import _MelWarpDataset

    rng = np.random.default_rng(0)
    cols = {"input_features": rng.standard_normal((60, 20, 30)).astype(np.float32), "labels": rng.integers(0, 9, 60)}
    rows, batches = _MelWarpDataset(cols, 0.15, seed=3), _MelWarpDataset(cols, 0.15, seed=3)
    warped = 0
    for _ in range(10):
        idx = rng.permutation(60)[:16].tolist()
        for one, row, i in zip([rows[i] for i in idx], batches.__getitems__(idx), idx):
            assert torch.equal(one["input_features"], row["input_features"]) and int(row["labels"]) == cols["labels"][i]
            warped += not torch.equal(row["input_features"], torch.as_tensor(cols["input_features"][i]))
    assert warped == 160 and rows.rng.bit_generator.state == batches.rng.bit_generator.state
