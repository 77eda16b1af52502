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
