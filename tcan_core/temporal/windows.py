"""TCAN's sliding windows over frames (MultiDiffusion along time).

Windows of `length` frames start every `length - overlap` frames while the start is inside the clip;
with closed_loop (the official schedule) the last window wraps around to the first frames, without
it the last window is shifted back to end at the last frame. A clip no longer than one window is one
window.
"""


def sliding_windows(num_frames, length=16, overlap=4, closed_loop=True):
    """-> list of windows, each a list of absolute frame indices."""
    if num_frames < 1:
        raise ValueError("need at least one frame")
    if length < 1 or not 0 <= overlap < length:
        raise ValueError(f"window length must be >= 1 and overlap in 0..length-1, got {length}, {overlap}")
    if num_frames <= length:
        return [list(range(num_frames))]
    stride = length - overlap
    windows = []
    for start in range(0, num_frames, stride):
        if closed_loop:
            windows.append([(start + k) % num_frames for k in range(length)])
        else:
            start = min(start, num_frames - length)
            windows.append(list(range(start, start + length)))
            if start + length >= num_frames:
                break
    return windows


def padded_frame_indices(num_frames, multiple):
    """TCAN's padding: the clip extended to a multiple of `multiple` frames by repeating its last frame;
    -> the source frame of every padded position (the first num_frames are the clip itself)."""
    if num_frames < 1 or multiple < 1:
        raise ValueError(f"need at least one frame and a multiple >= 1, got {num_frames}, {multiple}")
    padded = -(-num_frames // multiple) * multiple
    return [min(i, num_frames - 1) for i in range(padded)]
