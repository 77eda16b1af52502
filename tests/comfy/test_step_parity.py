"""One model evaluation of the pack equals TCAN's architecture composed from diffusers parts.

The reference below shares no code with tcan_core: diffusers' UNet2DConditionModel and
ControlNetModel (weights converted from the same random SD1.5-shaped models by diffusers' own
converter), AnimateDiff's temporal transformer and TCAN's additions written out here:
- motion modules after each resnet(+attention) pair of every level (AnimateDiff's layout), the
  pose-driven temperature map dividing their attention logits;
- GroupNorm of the res blocks across the frames of the window (TCAN's 3-D blocks) for TCAN files;
- reference attention: an appearance UNet's norm1 outputs at the mid and up blocks' self-attention
  concatenated to the denoising UNet's K/V, cond rows only;
- the APPA LoRA merged into the weights (W + B A, alpha / rank = 1);
- the temporal ControlNet (temporal layers after down blocks 2 and 3) once with the positive text.
The pack runs the same 16-frame window through Load TCAN (with TCAN-format files in the official
layout built from those weights, or zero-shot) and Sample Long Video with a one-evaluation sampler;
cond and uncond predictions are compared before CFG.
"""

import contextlib
import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from .models import CONTROLNET, MOTION_V2, model_path, sd15

diffusers = pytest.importorskip("diffusers")

FRAMES, SIZE, T = 16, 64, 500  # one window of 16 frames at 64x64 (8x8 latents), timestep 500
TOLERANCE = 1e-3  # of the largest prediction
SD15 = dict(sample_size=SIZE // 8, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3, cross_attention_dim=768,
            attention_head_dim=8)
SD15_CONTROLNET = {k: v for k, v in SD15.items() if k not in ("sample_size", "up_block_types")}


# -- the reference: diffusers parts and TCAN's additions, written out --------------------------------------

def meta_model(cls, config, state):
    """A diffusers model whose parameters are the given tensors (no copy)."""
    with torch.device("meta"):
        model = cls(**config)
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval().requires_grad_(False)


class TemporalTransformer:
    """AnimateDiff's VanillaTemporalModule from its state-dict entries (prefix `<block>.motion_modules.<j>.`)."""

    def __init__(self, state, prefix):
        self.w = {k[len(prefix):]: v.float() for k, v in state.items() if k.startswith(prefix)}

    def linear(self, x, name, bias=True):
        return F.linear(x, self.w[name + ".weight"], self.w.get(name + ".bias") if bias else None)

    def __call__(self, x, frames, temperature=None):
        w, tt = self.w, "temporal_transformer."
        rows, channels, height, width = x.shape
        h = F.group_norm(x, 32, w[tt + "norm.weight"], w[tt + "norm.bias"], 1e-6)  # each frame alone
        h = h.reshape(-1, frames, channels, height, width).permute(0, 3, 4, 1, 2).reshape(-1, frames, channels)
        h = self.linear(h, tt + "proj_in")
        block = tt + "transformer_blocks.0."
        for a in (0, 1):
            n = F.layer_norm(h, (channels,), w[f"{block}norms.{a}.weight"], w[f"{block}norms.{a}.bias"])
            attn = f"{block}attention_blocks.{a}."
            n = n + w[attn + "pos_encoder.pe"][0, :frames].float()
            q, k, v = (self.linear(n, attn + p, bias=False).reshape(n.shape[0], frames, 8, -1).transpose(1, 2)
                       for p in ("to_q", "to_k", "to_v"))
            logits = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            if temperature is not None:  # PTM: each spatial position's logits divided by T(x, y)
                t = F.interpolate(temperature[None, None], size=(height, width), mode="nearest").reshape(-1)
                logits = logits / t.repeat(n.shape[0] // t.numel())[:, None, None, None]
            out = (logits.softmax(-1) @ v).transpose(1, 2).reshape(n.shape)
            h = self.linear(out, attn + "to_out.0") + h
        n = F.layer_norm(h, (channels,), w[block + "ff_norm.weight"], w[block + "ff_norm.bias"])
        value, gate = self.linear(n, block + "ff.net.0.proj").chunk(2, dim=-1)
        h = self.linear(value * F.gelu(gate), block + "ff.net.2") + h
        h = self.linear(h, tt + "proj_out")
        h = h.reshape(-1, height, width, frames, channels).permute(0, 3, 4, 1, 2).reshape(x.shape)
        return x + h


def motion_sites(network, levels):
    """(module after which a motion module runs, its name) in AnimateDiff's layout for the given levels."""
    sites = []
    for kind, blocks in (("down_blocks", network.down_blocks), ("up_blocks", getattr(network, "up_blocks", []))):
        for i, block in enumerate(blocks):
            if i not in levels:
                continue
            layers = block.attentions if getattr(block, "attentions", None) else block.resnets
            sites += [(layer, f"{kind}.{i}.motion_modules.{j}") for j, layer in enumerate(layers)]
    return sites


@contextlib.contextmanager
def hooks(network, motion_state=None, levels=(0, 1, 2, 3), frames=FRAMES, temperature=None, cross_frame=False):
    """Motion modules (with PTM) and cross-frame GroupNorm attached to a diffusers network."""
    handles = []
    if motion_state is not None:
        for layer, name in motion_sites(network, levels):
            module = TemporalTransformer(motion_state, name + ".")

            def after(_, inputs, output, module=module):
                if isinstance(output, tuple):
                    return (module(output[0], frames, temperature),) + output[1:]
                return module(output, frames, temperature)
            handles.append(layer.register_forward_hook(after))
    if cross_frame:
        norms = [m for resnet in network.modules() if isinstance(resnet, diffusers.models.resnet.ResnetBlock2D)
                 for m in (resnet.norm1, resnet.norm2)]
        norms += [network.conv_norm_out] if getattr(network, "conv_norm_out", None) is not None else []

        def across(norm, inputs, output):
            x = inputs[0]
            y = x.reshape(-1, frames, *x.shape[1:]).transpose(1, 2)  # [chunks, C, frames, h, w]
            y = F.group_norm(y, norm.num_groups, norm.weight, norm.bias, norm.eps)
            return y.transpose(1, 2).reshape(x.shape)
        handles += [norm.register_forward_hook(across) for norm in norms]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def reference_sites(unet):
    """The 10 self-attentions of TCAN's reference attention: mid block and up blocks, in order."""
    blocks = [unet.mid_block.attentions[0]] + [a for block in unet.up_blocks[1:] for a in block.attentions]
    return [b.transformer_blocks[0].attn1 for b in blocks]


class Writer:
    """attn1 processor that records its input (norm1's output) and attends as usual."""

    def __init__(self, bank, index):
        self.bank, self.index = bank, index

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, **kwargs):
        self.bank[self.index] = hidden_states
        return attend(attn, hidden_states, hidden_states)


class Reader:
    """attn1 processor with K/V = [own tokens, the recorded reference tokens]."""

    def __init__(self, bank, index):
        self.bank, self.index = bank, index

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, **kwargs):
        reference = self.bank[self.index].expand(hidden_states.shape[0], -1, -1)
        return attend(attn, hidden_states, torch.cat([hidden_states, reference], dim=1))


def attend(attn, queries, keys_values):
    heads = attn.heads
    q, k, v = (t.reshape(t.shape[0], t.shape[1], heads, -1).transpose(1, 2)
               for t in (attn.to_q(queries), attn.to_k(keys_values), attn.to_v(keys_values)))
    weights = (q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1)
    out = (weights @ v).transpose(1, 2).reshape(queries.shape[0], queries.shape[1], -1)
    return attn.to_out[1](attn.to_out[0](out))


@contextlib.contextmanager
def processors(unet, make):
    sites = reference_sites(unet)
    saved = [site.processor for site in sites]
    for index, site in enumerate(sites):
        site.set_processor(make(index))
    try:
        yield
    finally:
        for site, processor in zip(sites, saved):
            site.set_processor(processor)


def temperature_map(pose_images, tau=3.0):
    """TCAN's PTM: T = tau * D / half diagonal + 1, D = distance to the window's pose pixels."""
    pose = (np.asarray(pose_images) != 0).any(axis=(0, 3))
    distance = cv2.distanceTransform((~pose).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    height, width = pose.shape
    return torch.from_numpy(tau * distance / math.hypot(height / 2, width / 2) + 1.0).float()


def reference_prediction(case, config):
    """(cond eps, uncond eps) of the reference composition for one window."""
    unet, appearance, controlnet = config["unet"], config["appearance"], config["controlnet"]
    x_in = case["x"] / math.sqrt(case["sigma"] ** 2 + 1)
    t = torch.full((FRAMES,), float(T))
    positive = case["positive"].expand(FRAMES, -1, -1)
    temperature = temperature_map(case["poses_uint8"]) if config["ptm"] else None
    extra = {}
    with torch.no_grad():
        if controlnet is not None:
            with hooks(controlnet, config["controlnet_motion"], levels=(2, 3), cross_frame=config["control_across"]):
                down, mid = controlnet(x_in, t, encoder_hidden_states=positive, controlnet_cond=case["hint"],
                                       return_dict=False)
            extra = {"down_block_additional_residuals": down, "mid_block_additional_residual": mid}
        bank = {}
        if config["reference"]:
            with processors(appearance, lambda i: Writer(bank, i)):
                appearance(case["reference_latent"], t[:1], encoder_hidden_states=case["positive"])
        out = {}
        for kind, text in (("cond", positive), ("uncond", case["negative"].expand(FRAMES, -1, -1))):
            reader = processors(unet, lambda i: Reader(bank, i)) if kind == "cond" and bank else \
                contextlib.nullcontext()
            with reader, hooks(unet, config["unet_motion"], temperature=temperature, cross_frame=config["unet_across"]):
                out[kind] = unet(x_in, t, encoder_hidden_states=text, **extra).sample
    return out["cond"], out["uncond"]


# -- the pack, one evaluation through Sample Long Video ------------------------------------------------------

def pack_prediction(case, patched, bundle):
    import comfy.samplers

    from tcan_core.comfy.long_video import sample_long_video

    captured = {}

    def capture(args):  # before CFG: x - denoised = sigma * eps for each prompt
        sigma = args["sigma"].reshape(-1, 1, 1, 1)
        captured["cond"], captured["uncond"] = args["cond"] / sigma, args["uncond"] / sigma
        return args["cond"]

    def one_evaluation(model, x, sigmas, extra_args=None, callback=None, disable=None):
        model(case["x"], sigmas[0] * x.new_ones([x.shape[0]]), **(extra_args or {}))
        return x

    model = patched.clone()
    model.set_model_sampler_cfg_function(capture, disable_cfg1_optimization=True)
    sigmas = torch.tensor([case["sigma"], 0.0])
    sample_long_video(model, bundle, [[case["positive"], {}]], [[case["negative"], {}]], case["vae"],
                      case["reference_image"], case["poses"], seed=0, steps=1, cfg=2.0, sampler_name="euler",
                      scheduler="normal", sampler=comfy.samplers.KSAMPLER(one_evaluation), sigmas=sigmas,
                      controlnet_strength=case.get("controlnet_strength", 1.0))
    return captured["cond"], captured["uncond"]


# -- shared inputs and weights ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world(comfy_nodes):
    import comfy.controlnet
    import comfy.model_management
    import comfy.utils
    from diffusers.loaders.single_file_utils import convert_controlnet_checkpoint, convert_ldm_unet_checkpoint

    comfy.model_management.unload_all_models()  # no other clone's patches or injections in the weights below
    model, _, vae = sd15()
    control_net = comfy.controlnet.load_controlnet(model_path("controlnet", CONTROLNET))
    motion_state = {k: v.float() for k, v in comfy.utils.load_torch_file(
        model_path("animatediff_models", MOTION_V2)).items() if not k.startswith("mid_block")}
    with torch.device("meta"):
        unet_config = dict(diffusers.UNet2DConditionModel(**SD15).config)
        control_config = dict(diffusers.ControlNetModel(**SD15_CONTROLNET).config)
    ldm = {"model.diffusion_model." + k: v for k, v in model.model.diffusion_model.state_dict().items()}
    unet = meta_model(diffusers.UNet2DConditionModel, SD15, convert_ldm_unet_checkpoint(ldm, unet_config))
    control_state = convert_controlnet_checkpoint(dict(control_net.control_model.state_dict()), control_config)
    controlnet = meta_model(diffusers.ControlNetModel, SD15_CONTROLNET, control_state)

    g = torch.Generator().manual_seed(0)
    poses = np.zeros((FRAMES, SIZE, SIZE, 3), np.uint8)
    for i in range(FRAMES):  # a stick figure walking right, in OpenPose-like colours
        cv2.line(poses[i], (12 + i, 10), (20 + i, 50), (255, 85, 0), 3)
        cv2.circle(poses[i], (14 + i, 12), 3, (255, 0, 0), -1)
    case = {"x": torch.randn(FRAMES, 4, SIZE // 8, SIZE // 8, generator=g) * 2.0,
            "positive": torch.randn(1, 77, 768, generator=g), "negative": torch.randn(1, 77, 768, generator=g),
            "reference_image": torch.rand(1, SIZE, SIZE, 3, generator=g), "poses_uint8": poses,
            "poses": torch.from_numpy(poses).float() / 255, "vae": vae}
    case["hint"] = case["poses"].movedim(-1, 1)
    case["reference_latent"] = vae.encode(case["reference_image"]) * 0.18215  # SD1.5's latent scale
    scheduler = diffusers.DDPMScheduler(beta_schedule="linear", beta_start=0.00085, beta_end=0.012)
    alpha = float(scheduler.alphas_cumprod[T])
    case["sigma"] = math.sqrt((1 - alpha) / alpha)
    return {"model": model, "control_net": control_net, "motion_state": motion_state, "unet": unet,
            "controlnet": controlnet, "case": case, "generator": g}


def release():
    """Unload the previous configuration's models (each holds GBs) before building the next."""
    import gc

    import comfy.model_management

    comfy.model_management.unload_all_models()
    gc.collect()


def assert_agrees(pack, reference):
    for ours, theirs in zip(pack, reference):
        scale = theirs.abs().max()
        error = (ours - theirs).abs().max()
        assert error <= TOLERANCE * scale, f"max error {error:.3g} vs scale {scale:.3g}"


@contextlib.contextmanager
def replaced(network, tensors):
    """Temporarily give a network other parameter tensors ({name: tensor})."""
    saved = {}
    for name, value in tensors.items():
        owner, _, attr = name.rpartition(".")
        module = network.get_submodule(owner)
        saved[name] = getattr(module, attr)
        setattr(module, attr, torch.nn.Parameter(value, requires_grad=False))
    try:
        yield
    finally:
        for name, value in saved.items():
            owner, _, attr = name.rpartition(".")
            setattr(network.get_submodule(owner), attr, value)


def lora_targets(unet):
    return [n[:-len(".weight")] for n, _ in unet.named_parameters()
            if ".transformer_blocks.0.attn" in n and n.rsplit(".", 2)[-2] in ("to_q", "to_k", "to_v")]


# -- the tests --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tcan_files(world):
    """TCAN-format files in the official layout, built from the reference's weights: a [UNet] with other
    GroupNorms than the user's MODEL and an APPA LoRA, an [AppearanceEncoder] with its own attention
    weights (TCAN's architecture: no final-block tail, no output layers), a [ControlNetT]."""
    unet, g = world["unet"], world["generator"]
    state = dict(unet.state_dict())
    norms = {k: v * 1.1 + 0.05 for k, v in state.items()
             if ("norm1." in k or "norm2." in k) and ".resnets." in k or k.startswith("conv_norm_out.")}
    targets = lora_targets(unet)
    assert len(targets) == 96 and len(norms) == 90  # 45 GroupNorms (22 res blocks x 2, conv_norm_out)
    lora = {}
    for target in targets:
        weight = state[target + ".weight"]
        a = torch.randn(16, weight.shape[1], generator=g) / weight.shape[1] ** 0.5
        b = torch.randn(weight.shape[0], 16, generator=g) * 0.3 * float(weight.std()) / 4
        lora[target] = (a, b)
    official_unet = {**state, **norms}
    for target, (a, b) in lora.items():
        official_unet[target + ".base_layer.weight"] = official_unet.pop(target + ".weight")
        official_unet[target + ".lora_A.default.weight"] = a
        official_unet[target + ".lora_B.default.weight"] = b
    official_unet.update({k: v for k, v in world["motion_state"].items()})
    base = {**state, **norms}
    merged = {t + ".weight": base[t + ".weight"] + b @ a for t, (a, b) in lora.items()}

    appearance_own = {k: v * 1.05 for k, v in state.items() if k.endswith("attn1.to_k.weight")}
    with torch.device("meta"):  # TCAN's AppearanceEncoderModel: which weights its file holds
        encoder = diffusers.UNet2DConditionModel(**SD15)
        encoder.conv_norm_out = encoder.conv_act = encoder.conv_out = None
        final = encoder.up_blocks[3].attentions[2]
        for name in ("attn1", "norm2", "attn2", "norm3", "ff"):
            setattr(final.transformer_blocks[0], name, torch.nn.Identity())
        final.proj_out = torch.nn.Identity()
    appearance_state = {**base, **appearance_own}
    official_appearance = {k: appearance_state[k] for k in encoder.state_dict()}
    assert len(appearance_state) - len(official_appearance) == 24
    official_controlnet = {**dict(world["controlnet"].state_dict()),
                           **{k: v for k, v in world["motion_state"].items()
                              if k.startswith(("down_blocks.2.", "down_blocks.3."))}}
    return {"unet": official_unet, "appearance": official_appearance, "controlnet": official_controlnet,
            "norms": norms, "merged": merged, "appearance_weights": appearance_state}


TCAN_CONFIGS = {
    "everything": dict(lora=True, ptm=True, reference=True, temporal_controlnet=True, controlnet=True),
    "no LoRA, no PTM": dict(lora=False, ptm=False, reference=True, temporal_controlnet=True, controlnet=True),
    "no reference, no temporal ControlNet": dict(lora=True, ptm=True, reference=False, temporal_controlnet=False,
                                                 controlnet=True),
    "no ControlNet": dict(lora=True, ptm=True, reference=True, temporal_controlnet=True, controlnet=False),
}


@pytest.mark.parametrize("name", list(TCAN_CONFIGS))
def test_tcan_weights_match_tcans_architecture(world, tcan_files, name):
    from tcan_core.checkpoints import load_tcan_files
    from tcan_core.comfy.load import load_tcan
    from tcan_core.temporal import load_motion_modules

    release()
    options = TCAN_CONFIGS[name]
    case = dict(world["case"], controlnet_strength=1.0 if options["controlnet"] else 0.0)
    weights = load_tcan_files(unet=tcan_files["unet"], appearance=tcan_files["appearance"],
                              controlnet=tcan_files["controlnet"])
    patched, bundle = load_tcan(world["model"], world["control_net"], load_motion_modules(world["motion_state"]),
                                weights=weights, lora_strength=1.0 if options["lora"] else 0.0,
                                reference_attention=options["reference"], ptm_tau=3.0 if options["ptm"] else 0.0,
                                temporal_controlnet=options["temporal_controlnet"])
    pack = pack_prediction(case, patched, bundle)

    unet, controlnet = world["unet"], world["controlnet"]
    unet_weights = {**tcan_files["norms"], **(tcan_files["merged"] if options["lora"] else {})}
    with torch.device("meta"):
        appearance = diffusers.UNet2DConditionModel(**SD15)
    appearance.load_state_dict(tcan_files["appearance_weights"], strict=True, assign=True)
    config = {"unet": unet, "appearance": appearance.eval(), "controlnet": controlnet if options["controlnet"] else None,
              "unet_motion": world["motion_state"], "controlnet_motion":
                  world["motion_state"] if options["temporal_controlnet"] else None,
              "ptm": options["ptm"], "reference": options["reference"], "unet_across": True, "control_across": True}
    with replaced(unet, unet_weights):
        reference = reference_prediction(case, config)
    assert_agrees(pack, reference)


def test_zero_shot_matches_its_composition(world):
    """Zero-shot: the user's SD1.5 weights, AnimateDiff v2 modules (per-frame GroupNorm), the UNet itself
    as appearance net (no motion modules, no ControlNet), the stock ControlNet with temporal layers
    from the module's down blocks 2/3."""
    from tcan_core.comfy.load import load_tcan
    from tcan_core.temporal import load_motion_modules

    release()
    patched, bundle = load_tcan(world["model"], world["control_net"], load_motion_modules(world["motion_state"]))
    pack = pack_prediction(world["case"], patched, bundle)
    config = {"unet": world["unet"], "appearance": world["unet"], "controlnet": world["controlnet"],
              "unet_motion": world["motion_state"], "controlnet_motion": world["motion_state"], "ptm": True,
              "reference": True, "unet_across": False, "control_across": False}
    reference = reference_prediction(world["case"], config)
    assert_agrees(pack, reference)
