"""Loading TCAN's checkpoint files (official layout, tcan.md 11) into TCANWeights.

The official UNet file is a full diffusers UNet3DConditionModel state dict: base weights (the
model TCAN was trained on, which replaces the user's SD1.5 weights), the peft APPA LoRA on 96
linears, and in stage 2 the motion modules. The AppearanceEncoder file is a diffusers UNet2D that
omits 20 weights of its final transformer block by design. The ControlNetT file is a diffusers
ControlNet plus motion modules in down blocks 2 and 3. Everything is checked key for key: a wrong
or damaged file is a ValueError naming the file, the layout expected, the first unexpected and
missing keys, and where the file belongs.
"""

from collections.abc import Mapping

from .detect import KINDS, ROLES, TCAN_FOLDER, detect_kind, role_of
from .lora import split_peft
from .names import UNET_PREFIX, controlnet_name_map, rename, unet_name_map
from .pack import unpack
from .read import read_state_dict
from .weights import TCANWeights

# The weights of up_blocks.3.attentions.2 that TCAN's appearance encoder drops before saving
# (`reset_final_block()`, tcan.md 11.1): everything after the last recorded norm1.
APPEARANCE_OMITTED = frozenset(
    "up_blocks.3.attentions.2." + name for name in
    [f"transformer_blocks.0.{a}.to_{x}.weight" for a in ("attn1", "attn2") for x in ("q", "k", "v")]
    + [f"transformer_blocks.0.{a}.to_out.0.{p}" for a in ("attn1", "attn2") for p in ("weight", "bias")]
    + [f"transformer_blocks.0.{m}.{p}" for m in ("norm2", "norm3", "ff.net.0.proj", "ff.net.2")
       for p in ("weight", "bias")]
    + ["proj_out.weight", "proj_out.bias"])
# TCAN's AppearanceEncoderModel never defines the output layers either (tcan.md 11.1, correction):
# a real file also lacks these 4 keys. Accepted as absent; a file that has them loads them.
APPEARANCE_OUTPUT_OMITTED = frozenset(f"{m}.{p}" for m in ("conv_norm_out", "conv_out") for p in ("weight", "bias"))


def _split_motion(state_dict):
    """-> (motion-module entries, the rest); motion modules keep their AnimateDiff keys."""
    motion = {k: v for k, v in state_dict.items() if "motion_modules." in k}
    return motion, {k: v for k, v in state_dict.items() if k not in motion}


def _unet(state_dict, name, lora_alpha):
    motion, rest = _split_motion(state_dict)
    plain, loras = split_peft(rest, alpha=lora_alpha, source=name)
    names = unet_name_map()
    renamed = rename(plain, names, prefix=UNET_PREFIX)
    stray = [key.removesuffix(".weight") + ".lora_A/B" for key in loras if key not in names]
    fields = {"unet_base": renamed.state, "motion_module_state": motion,
              "lora": {UNET_PREFIX + names[key]: lora for key, lora in loras.items() if key in names}}
    return fields, renamed.unexpected + stray, renamed.missing


def _appearance(state_dict, name, lora_alpha):
    names = unet_name_map()
    renamed = rename(state_dict, names, prefix=UNET_PREFIX)
    optional = APPEARANCE_OMITTED | APPEARANCE_OUTPUT_OMITTED
    omitted = tuple(UNET_PREFIX + names[key] for key in renamed.missing if key in optional)
    missing = [key for key in renamed.missing if key not in optional]
    return {"appearance_unet": renamed.state, "appearance_missing": omitted}, renamed.unexpected, missing


def _controlnet(state_dict, name, lora_alpha):
    motion, rest = _split_motion(state_dict)
    renamed = rename(rest, controlnet_name_map())
    return {"controlnet": renamed.state, "controlnet_motion_state": motion}, renamed.unexpected, renamed.missing


_CONVERTERS = {"unet": _unet, "appearance": _appearance, "controlnet": _controlnet}


def _first(keys, count=5):
    more = f" and {len(keys) - count} more" if len(keys) > count else ""
    return ", ".join(keys[:count]) + more


def _what_it_is(kind, state):
    if kind == "unknown":
        return f"Its keys match no layout this pack knows (first keys: {_first(list(state))})."
    return f"It looks like {KINDS[kind].description}; such files belong in {KINDS[kind].folder}."


def _layout_error(name, role, kind, state, unexpected, missing):
    parts = [f"{name} is not {ROLES[role].description}."]
    if kind not in ROLES[role].kinds:
        parts.append(_what_it_is(kind, state))
    if unexpected:
        parts.append(f"Unexpected keys ({len(unexpected)}): {_first(unexpected)}.")
    if missing:
        parts.append(f"Missing keys ({len(missing)}): {_first(missing)}.")
    parts.append(f"TCAN checkpoint files belong in {TCAN_FOLDER}/.")
    return ValueError(" ".join(parts))


def _not_tcan_error(name, kind, state):
    if kind == "diffusers_unet":
        return ValueError(f"{name} is {KINDS[kind].description}: it could be the UNet or the appearance encoder; "
                          "pass it as unet= or appearance=.")
    return ValueError(f"{name} is not a TCAN file. {_what_it_is(kind, state)} Load TCAN takes the [UNet], "
                      f"[AppearanceEncoder] and [ControlNetT] files (or this pack's single-file conversion of them) "
                      f"from {TCAN_FOLDER}/.")


def _convert(state, metadata, name, role, lora_alpha):
    """One read file in a given role -> ({TCANWeights field: value}, name of its origin)."""
    kind = detect_kind(state, metadata)
    if kind == "tcan_pack":
        weights = unpack(state, metadata, source=name)
        if role not in weights.roles:
            raise ValueError(f"{name} is a TCAN pack without the {role} part (it has: {', '.join(weights.roles)})")
        return weights.role_fields(role), weights.sources.get(role, name)
    fields, unexpected, missing = _CONVERTERS[role](state, name, lora_alpha)
    if kind not in ROLES[role].kinds or unexpected or missing:
        raise _layout_error(name, role, kind, state, unexpected, missing)
    return fields, name


def load_tcan_files(*sources, unet=None, appearance=None, controlnet=None, lora_alpha=None):
    """TCAN checkpoint files -> TCANWeights.

    Files named by role (unet=, appearance=, controlnet=) must fit that role; positional ones are
    assigned by their keys, and a pack file gives every part it holds. Each source is a path or an
    already loaded state dict. `lora_alpha` None means alpha = rank (TCAN: 16/16, scale 1).
    """
    parts, origin = {}, {}

    def add(role, fields, name):
        if role in parts:
            raise ValueError(f"two files for the {role}: {origin[role]} and {name}")
        parts[role], origin[role] = fields, name

    for role, source in (("unet", unet), ("appearance", appearance), ("controlnet", controlnet)):
        if source is not None:
            state, metadata, name = read_state_dict(source, f"{role} state dict" if isinstance(source, Mapping) else None)
            add(role, *_convert(state, metadata, name, role, lora_alpha))
    for source in sources:
        state, metadata, name = read_state_dict(source)
        kind = detect_kind(state, metadata)
        if kind == "tcan_pack":
            weights = unpack(state, metadata, source=name)
            for role in weights.roles:
                add(role, weights.role_fields(role), weights.sources.get(role, name))
        elif role_of(kind) is None:
            raise _not_tcan_error(name, kind, state)
        else:
            add(role_of(kind), *_convert(state, metadata, name, role_of(kind), lora_alpha))
    if not parts:
        raise ValueError(f"no TCAN files given; expected the [UNet], [AppearanceEncoder] and/or [ControlNetT] "
                         f"files from {TCAN_FOLDER}/")
    fields = {key: value for role_fields in parts.values() for key, value in role_fields.items()}
    return TCANWeights(**fields, sources=origin)
