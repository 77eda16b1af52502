"""Pictures for people: tiles, captions, colour maps and the window schedule, drawn with OpenCV.

Used by the demo's preview video and contact sheet and by scripts/make_thumbnails.py. All images
are uint8 RGB [H, W, 3].
"""

import cv2
import numpy as np

BACKGROUND = (24, 24, 28)
TEXT = (235, 235, 235)
MUTED = (150, 150, 160)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def fit(image, width, height):
    """The image scaled to fit width x height (aspect kept), centred on black."""
    image = np.asarray(image)
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    top, left = (height - size[1]) // 2, (width - size[0]) // 2
    out[top:top + size[1], left:left + size[0]] = small
    return out


def text(image, line, origin, scale=0.45, color=TEXT, thickness=1):
    """Draws one line of text with its baseline at origin (x, y); returns its width in pixels."""
    cv2.putText(image, line, (int(origin[0]), int(origin[1])), FONT, scale, color, thickness, cv2.LINE_AA)
    return cv2.getTextSize(line, FONT, scale, thickness)[0][0]


def caption(tile, line, height=20, scale=0.42, color=TEXT):
    """The tile with a text bar under it."""
    bar = np.full((height, tile.shape[1], 3), BACKGROUND, np.uint8)
    text(bar, line, (4, height - 6), scale, color)
    return np.concatenate([tile, bar], axis=0)


def pad(image, width=None, height=None):
    """The image on a BACKGROUND canvas of at least width x height (top left aligned)."""
    h, w = image.shape[:2]
    out = np.full((max(h, height or 0), max(w, width or 0), 3), BACKGROUND, np.uint8)
    out[:h, :w] = image
    return out


def lines(paragraphs, width, height, scale=0.45):
    """A block of text, each paragraph wrapped at the block's width (the first one brighter)."""
    out = np.full((height, width, 3), BACKGROUND, np.uint8)
    y = 18
    for n, paragraph in enumerate(paragraphs):
        line = ""
        for word in paragraph.split() + [None]:
            longer = f"{line} {word}".strip() if word else line
            if word is None or (line and cv2.getTextSize(longer, FONT, scale, 1)[0][0] > width - 8):
                if y > height - 4:
                    return out
                text(out, line, (4, y), scale, MUTED if n else TEXT)
                y, line = y + 19, word or ""
            else:
                line = longer
    return out


def hstack(tiles, gap=6):
    """Tiles side by side, top aligned, on BACKGROUND."""
    return _stack(tiles, gap, axis=1)


def vstack(rows, gap=6):
    """Rows one under the other, left aligned, on BACKGROUND."""
    return _stack(rows, gap, axis=0)


def _stack(images, gap, axis):
    across = max(image.shape[1 - axis] for image in images)  # the common height (axis 1) or width (axis 0)
    parts = []
    for i, image in enumerate(images):
        padded = pad(image, height=across) if axis else pad(image, width=across)
        spacer = np.full((across, gap, 3) if axis else (gap, across, 3), BACKGROUND, np.uint8)
        parts += ([spacer] if i else []) + [padded]
    return np.concatenate(parts, axis=axis)


def overlay(image, pose_image):
    """A pose drawn over a darkened image (both the same size)."""
    return np.maximum(np.asarray(image) // 2, pose_image)


def heat(temperature, vmax):
    """TCAN's temperature map T (>= 1) as colours: dark at T = 1 (on the pose), bright at T = vmax."""
    level = np.clip((np.asarray(temperature, np.float32) - 1.0) / max(vmax - 1.0, 1e-6), 0.0, 1.0)
    bgr = cv2.applyColorMap(np.round(level * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)
    return np.ascontiguousarray(bgr[..., ::-1])


def schedule(windows, num_frames, width, current=None, bar=9):
    """The sliding windows over the frames: one bar per window (alternating rows), the frames each
    window covers; with `current`, that frame is marked and the windows holding it highlighted."""
    rows = 2
    height = 24 + rows * (bar + 4) + 16
    out = np.full((height, width, 3), BACKGROUND, np.uint8)
    left, right = 8, width - 16

    def x(frame):
        return left + (right - left) * frame / num_frames

    for k, window in enumerate(windows):
        y = 20 + (k % rows) * (bar + 4)
        holds = current is not None and current in window
        colour = (120, 190, 255) if holds else (70, 110, 150)
        for run_start, run_end in _runs(window):  # a wrapped (closed-loop) window is two runs
            cv2.rectangle(out, (round(x(run_start)), y), (round(x(run_end + 1)) - 1, y + bar), colour, -1)
    for frame in range(0, num_frames + 1, max(1, num_frames // 10)):
        cv2.line(out, (round(x(frame)), height - 14), (round(x(frame)), height - 10), MUTED, 1)
        text(out, str(frame), (round(x(frame)) - 6, height - 2), 0.32, MUTED)
    if current is not None:
        cv2.line(out, (round(x(current + 0.5)), 14), (round(x(current + 0.5)), height - 12), (255, 220, 90), 2)
    return out


def _runs(window):
    """Consecutive runs (start, end) of a window's frame indices."""
    runs, start = [], window[0]
    for a, b in zip(window, window[1:]):
        if b != a + 1:
            runs.append((start, a))
            start = b
    return runs + [(start, window[-1])]
