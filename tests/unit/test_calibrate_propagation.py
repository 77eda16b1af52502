"""Iterative Propagation groups (TPC Algorithm 1): partition, group sizes, draws."""

import numpy as np
import pytest

from tcan_core.calibrate import DEFAULT_GROUPS, PropagationGroups


def test_paper_default_is_thirty_groups_of_about_four_frames_for_its_average_video():
    assert DEFAULT_GROUPS == 30
    groups = PropagationGroups.split(120)
    assert groups.num_groups == 30 and set(np.diff(groups.bounds)) == {4}


@pytest.mark.parametrize("frames, m", [(100, 30), (1, 30), (7, 30), (1000, 30), (31, 30), (59, 30), (10, 1), (10, 10)])
def test_groups_partition_the_frames_into_consecutive_runs_of_near_equal_size(frames, m):
    groups = PropagationGroups.split(frames, m)
    assert groups.num_frames == frames and groups.bounds[0] == 0
    assert groups.num_groups == min(m, frames)
    sizes = np.diff(groups.bounds)
    assert sizes.min() >= 1 and sizes.max() - sizes.min() <= 1
    owner = groups.group_of()
    assert len(owner) == frames and (np.diff(owner) >= 0).all() and (np.diff(owner) <= 1).all()


def test_a_draw_picks_one_member_of_each_group_for_the_whole_group():
    groups = PropagationGroups.split(100, 30)
    members, source = groups.draw(np.random.default_rng(0))
    assert len(members) == 30 and len(source) == 100
    for g in range(30):
        lo, hi = groups.bounds[g], groups.bounds[g + 1]
        assert lo <= members[g] < hi
        assert (source[lo:hi] == members[g]).all()


def test_draws_are_seeded_and_every_member_gets_its_turn():
    groups = PropagationGroups.split(100, 30)
    a, b = groups.draw(123)[0], groups.draw(123)[0]
    assert (a == b).all()
    rng = np.random.default_rng(5)
    seen = np.zeros(100, int)
    for _ in range(400):
        np.add.at(seen, groups.draw(rng)[0], 1)
    assert (seen > 0).all()
    # uniform within a group: each of a 4-frame group's members near 1/4 of 400 draws
    first = seen[groups.bounds[0]:groups.bounds[1]]
    assert first.sum() == 400 and first.min() > 60


def test_one_group_per_frame_means_no_propagation():
    groups = PropagationGroups.split(5, 30)
    members, source = groups.draw(0)
    assert (members == np.arange(5)).all() and (source == np.arange(5)).all()


@pytest.mark.parametrize("frames, m, message", [(0, 30, "at least one frame"), (10, 0, "at least 1")])
def test_bad_sizes_are_value_errors(frames, m, message):
    with pytest.raises(ValueError, match=message):
        PropagationGroups.split(frames, m)
