"""Choosing one person per frame when a pose has several (or none).

The reference person is the largest one. In a driving sequence the first person chosen is the
largest, and every later frame takes the person nearest to the one chosen before, so a second
dancer or a passer-by does not make the skeleton jump between people.
"""

import numpy as np

from .skeleton import L_SHOULDER, NECK, R_SHOULDER


def body_with_neck(person):
    """Body [18, 3] with the neck filled in from the shoulders when missing (DWPose's definition)."""
    body = person.body.copy()
    if body[NECK, 2] <= 0 and body[R_SHOULDER, 2] > 0 and body[L_SHOULDER, 2] > 0:
        body[NECK, :2] = (body[R_SHOULDER, :2] + body[L_SHOULDER, :2]) / 2
        body[NECK, 2] = 1.0
    return body


def is_usable(person):
    """A person can be retargeted when it has a neck (or both shoulders) to hang the tree on."""
    return body_with_neck(person)[NECK, 2] > 0


def person_size(person):
    """Area of the bounding box of the visible body joints (0 for fewer than two joints)."""
    pts = person.body[person.body[:, 2] > 0, :2]
    if len(pts) < 2:
        return 0.0
    span = pts.max(axis=0) - pts.min(axis=0)
    return float(max(span[0], 1.0) * max(span[1], 1.0))


def _distance(person, previous):
    """Mean distance of joints visible in both, relative to the previous person's size."""
    a, b = person.body, previous.body
    common = (a[:, 2] > 0) & (b[:, 2] > 0)
    scale = np.sqrt(person_size(previous)) + 1e-6
    if common.any():
        return float(np.linalg.norm(a[common, :2] - b[common, :2], axis=1).mean() / scale)
    centre = lambda p: p.body[p.body[:, 2] > 0, :2].mean(axis=0)  # noqa: E731
    return float(np.linalg.norm(centre(person) - centre(previous)) / scale)


def largest_person(frame):
    """Index of the largest usable person of a frame, or None."""
    usable = [i for i, p in enumerate(frame.people) if is_usable(p)]
    if not usable:
        return None
    return max(usable, key=lambda i: person_size(frame.people[i]))


def track_person(frames):
    """Index of the followed person in each frame (None where no usable person), and notes."""
    chosen, previous = [], None
    crowded = []
    for t, frame in enumerate(frames):
        usable = [i for i, p in enumerate(frame.people) if is_usable(p)]
        if len(usable) > 1:
            crowded.append(t)
        if not usable:
            chosen.append(None)
            continue
        if previous is None:
            index = largest_person(frame)
        else:
            index = min(usable, key=lambda i: _distance(frame.people[i], previous))
        chosen.append(index)
        previous = frame.people[index]
    notes = []
    if crowded:
        first = next(i for i in chosen if i is not None)
        notes.append(
            f"driving: several people in {len(crowded)} frame(s) (first: frame {crowded[0]}); "
            f"followed person {first} of the first frame with a person (the largest), then the "
            "person nearest to the previous frame's choice")
    return chosen, notes
