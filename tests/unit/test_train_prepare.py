"""tcan-train prepare: what it drops and why, and the cached latents against the VAE run by hand."""

import json
import os

import numpy as np
import torch
from PIL import Image

from tcan_core.pose.keypoints import frames_from_pose_keypoint
from tcan_core.pose.render import render
from tcan_core.samples import DRIVING_POSE


def test_drops_each_bad_video_with_its_reason(train_files):
    manifest = json.load(open(os.path.join(train_files["cache"], "manifest.json")))
    reasons = {d["name"]: d["reason"] for d in manifest["dropped"]}
    assert set(reasons) == {"bad_count", "no_poses", "nobody", "portrait_poses"}
    assert reasons["bad_count"] == "20 frames but 19 pose frames"
    assert "no pose file" in reasons["no_poses"]
    assert reasons["nobody"] == "no frame shows a person"
    assert "aspect ratio" in reasons["portrait_poses"]
    log = "\n".join(train_files["prepare_log"])
    for name in reasons:
        assert f"dropped {name}: {reasons[name]}" in log
    splits = {v["name"]: v["split"] for v in manifest["videos"]}
    assert splits == {"video00": "train", "video01": "train", "video02": "train", "video03": "val"}
    assert train_files["prepare_summary"]["frames"] == 160
    print(f"\nprepare: {train_files['prepare_summary']['frames_per_second']:.1f} frames/s (tiny VAE, CPU)")
    assert train_files["prepare_summary"]["frames_per_second"] > 0


def test_cached_latents_are_the_vae_posterior_mean_and_std(train_files):
    from diffusers import AutoencoderKL

    vae = AutoencoderKL.from_pretrained(os.path.join(train_files["base"], "vae")).eval()
    frame = np.asarray(Image.open(os.path.join(train_files["data"], "video01", "0005.png")).convert("RGB"))
    x = torch.from_numpy(frame.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        dist = vae.encode(x).latent_dist
    cached = np.load(os.path.join(train_files["cache"], "latents", "video01.npy"))
    assert cached.shape == (40, 8, 8, 8) and cached.dtype == np.float16
    scale = vae.config.scaling_factor
    torch.testing.assert_close(torch.from_numpy(cached[5, :4]).float(), dist.mean[0] * scale, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(torch.from_numpy(cached[5, 4:]).float(), dist.std[0] * scale, atol=2e-3, rtol=2e-3)


def test_poses_follow_the_frames_crop():
    from tcan_core.train.prepare import crop_frame, crop_poses

    poses = frames_from_pose_keypoint(json.load(open(DRIVING_POSE))[:3])  # 512x512 canvas
    for frame in poses:  # as if detected on a 3:2 video of 192x128: the canvas has the video's aspect
        for person in frame.people:
            for _, part in person.parts():
                part[:, :2] *= [192 / 512, 128 / 512]
        frame.width, frame.height = 192, 128
    wide = render(poses, 192, 128)  # that video's frames
    cropped_frames = np.stack([crop_frame(f, 64, 64) for f in wide])
    cropped_poses = render(crop_poses(poses, 192, 128, 64, 64), 64, 64)
    for a, b in zip(cropped_frames.max(-1) > 40, cropped_poses.max(-1) > 40):
        # same skeleton in the same place (stick widths do not scale, so compare centres and extents)
        ya, xa = np.nonzero(a)
        yb, xb = np.nonzero(b)
        for u, v in ((xa, xb), (ya, yb)):
            assert abs((u.min() + u.max()) / 2 - (v.min() + v.max()) / 2) <= 1.0
            assert abs(u.min() - v.min()) <= 3 and abs(u.max() - v.max()) <= 3


def test_missing_base_model_is_a_clear_error(tmp_path, capsys):
    from tcan_core.train.cli import main

    rc = main(["prepare", "--data", str(tmp_path), "--cache", str(tmp_path / "c"), "--base", str(tmp_path / "nope")])
    err = capsys.readouterr().err
    assert rc == 2 and "VAE not found" in err and "diffusers folder" in err


def test_empty_data_folder_is_a_clear_error(train_files, tmp_path, capsys):
    from tcan_core.train.cli import main

    (tmp_path / "data").mkdir()
    rc = main(["prepare", "--data", str(tmp_path / "data"), "--cache", str(tmp_path / "c"), "--base",
               train_files["base"]])
    assert rc == 2 and "holds no videos" in capsys.readouterr().err


def test_training_on_a_missing_cache_is_a_clear_error(tmp_path, capsys, train_files):
    from tcan_core.train.cli import main

    rc = main(["stage1", "--cache", str(tmp_path), "--out", str(tmp_path / "o"), "--base", train_files["base"],
               "--controlnet", train_files["controlnet"]])
    assert rc == 2 and "not a prepared dataset" in capsys.readouterr().err
