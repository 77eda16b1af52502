"""Stage 2: the loss equals one computed by hand (motion modules placed by tcan.md 6/7's table,
5-D GroupNorm, reference of the first frame); training moves exactly the motion modules of the
UNet and the ControlNet and can overfit a clip."""

import copy

import pytest
import torch

from . import tiny_models as tm
from . import train_oracle as oracle
from .train_checks import assert_checkpointing_changes_nothing, overfit_losses, short_run_moves_only_the_trainable

pytest.importorskip("diffusers")
pytest.importorskip("accelerate")


@pytest.fixture(scope="module")
def parts(train_files):
    from tcan_core.train.data import ClipDataset, collate

    clips = ClipDataset(train_files["cache"], "train", seed=0)
    return tm.unet(), tm.unet(5), tm.controlnet(), clips.text_embedding(), collate([clips[(0, 0)]]), tm.motion_state()


def stage2(parts):
    from tcan_core.train.stage2 import Stage2

    unet, appearance, controlnet, text, _, motion = parts
    return Stage2(copy.deepcopy(unet), copy.deepcopy(appearance), copy.deepcopy(controlnet), text, motion)


def test_loss_matches_a_hand_computed_step(parts):
    from tcan_core.temporal import load_motion_modules

    unet, appearance, controlnet, text, batch, motion = parts
    stage = stage2(parts)
    draws = stage.draws(0, 0, batch)
    with torch.no_grad():
        loss = stage(batch, draws)
    f = batch["clip_mean"].shape[1]
    assert f == 16
    x0 = (batch["clip_mean"] + batch["clip_std"] * draws["latent_noise"]).flatten(0, 1)
    eps, t = draws["noise"].flatten(0, 1), draws["t"].repeat_interleave(f)
    x_t = oracle.noisy(x0, eps, t)
    tokens = oracle.record_norm1(appearance, batch["reference"], draws["t"], text)
    hand_unet, hand_controlnet = copy.deepcopy(unet), copy.deepcopy(controlnet)
    for model, is_controlnet in ((hand_unet, False), (hand_controlnet, True)):
        oracle.use_5d_group_norm(model, f)
        oracle.place_motion_modules(model, {k: m.float() for k, m in load_motion_modules(motion).items()}, f,
                                    controlnet=is_controlnet)
    oracle.use_hand_reference(hand_unet, tokens, keep_rows=[0] * f)
    context = text.expand(f, -1, -1)
    with torch.no_grad():
        down, mid = hand_controlnet(x_t, t, context, controlnet_cond=batch["pose"].flatten(0, 1), return_dict=False)
        prediction = hand_unet(x_t, t, context, down_block_additional_residuals=down,
                               mid_block_additional_residual=mid).sample
    expected = oracle.mse(prediction, eps)
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-6)


def test_trainable_set_is_the_motion_modules(parts):
    stage = stage2(parts)
    names = set(stage.trainable())
    assert names and all(".motion_modules." in n for n in names)
    unet_modules = {n.split(".temporal_transformer.")[0] for n in names if n.startswith("unet.")}
    controlnet_modules = {n.split(".temporal_transformer.")[0] for n in names if n.startswith("controlnet.")}
    assert len(unet_modules) == 20 and not any("mid_block" in n for n in unet_modules)
    assert sorted(controlnet_modules) == [
        f"controlnet.down_blocks.{i}.motion_modules.{j}" for i in (2, 3) for j in (0, 1)]
    assert not any(n.startswith("appearance.") for n in names)


def test_training_changes_only_the_trainable_weights(parts, train_files, tmp_path):
    from tcan_core.train.data import ClipDataset

    short_run_moves_only_the_trainable(stage2(parts), ClipDataset(train_files["cache"], "train"), tmp_path, steps=2,
                                       batch_size=1, label="stage 2")


def test_overfits_one_clip(parts):
    stage = stage2(parts)
    draws = stage.draws(0, 3, parts[4])
    losses = overfit_losses(stage, parts[4], draws, learning_rate=2e-3, steps=25)
    print(f"\noverfitting one batch: loss {losses[0]:.3f} -> {losses[-1]:.3f} in {len(losses)} steps")
    assert losses[-1] <= 0.5 * losses[0], losses


def test_gradient_checkpointing_gives_the_same_gradients(parts):
    draws = stage2(parts).draws(0, 3, parts[4])
    assert_checkpointing_changes_nothing(lambda: stage2(parts), parts[4], draws)
