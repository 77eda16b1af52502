"""TCAN's window schedule."""

import pytest

from tcan_core.temporal.windows import sliding_windows


def test_official_closed_loop_examples():
    assert sliding_windows(32) == [list(range(16)), list(range(12, 28)), list(range(24, 32)) + list(range(8))]
    w = sliding_windows(48)
    assert [x[0] for x in w] == [0, 12, 24, 36] and w[-1] == list(range(36, 48)) + [0, 1, 2, 3]
    assert sliding_windows(10) == [list(range(10))] and sliding_windows(16) == [list(range(16))]


def test_open_schedule_covers_every_frame_without_wrapping():
    for n in (17, 30, 37, 100):
        w = sliding_windows(n, closed_loop=False)
        assert all(len(x) == 16 and x == sorted(x) for x in w)
        assert sorted({f for x in w for f in x}) == list(range(n)) and w[-1][-1] == n - 1


def test_bad_arguments():
    with pytest.raises(ValueError):
        sliding_windows(0)
    with pytest.raises(ValueError):
        sliding_windows(20, length=16, overlap=16)


@pytest.mark.parametrize("fusion", ["uniform", "weighted"])
@pytest.mark.parametrize("frames", [1, 10, 16, 17, 40, 100])
@pytest.mark.parametrize("closed_loop", [True, False])
def test_every_frame_is_covered_and_its_weights_sum_to_one(fusion, frames, closed_loop):
    import numpy as np

    from tcan_core.temporal.fusion import frame_weights

    windows = sliding_windows(frames, closed_loop=closed_loop)
    weights = frame_weights(windows, frames, fusion)
    total = np.zeros(frames)
    for w, wt in zip(windows, weights):
        np.add.at(total, w, wt)
        assert (wt > 0).all()
    np.testing.assert_allclose(total, 1.0)


def test_weighted_fusion_trusts_window_centres_more():
    from tcan_core.temporal.fusion import frame_weights

    windows = sliding_windows(40, closed_loop=False)
    uniform = frame_weights(windows, 40, "uniform")
    weighted = frame_weights(windows, 40, "weighted")
    assert uniform[0][12] == 0.5  # frame 12 is in windows 0 and 1
    # frame 12: 13th frame of window 0 (triangle weight 4), first of window 1 (weight 1)
    assert weighted[0][12] == pytest.approx(0.8) and weighted[1][0] == pytest.approx(0.2)
    assert weighted[0][15] < weighted[1][3]  # frame 15: end of window 0, inside window 1
