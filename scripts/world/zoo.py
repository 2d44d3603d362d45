"""The encoder zoo: vision towers written as Hugging Face folders (CLIP, SigLIP, DINOv2 with and
without registers: config.json, model.safetensors, preprocessor_config.json) and one TorchScript
CNN with acsweep's sidecar, built so that they differ the way real encoders do.

Every tower is a real transformer of its family. Its weights are designed, not trained: the patch
embedding is a bank of filters in four groups, each group scaled by the recipe,
  colour     the patch's mean colour through random mixes (what the captions' colour words need),
  structure  where in the patch the contrast lies (halves, quadrants, centre), per colour channel,
  noise      random filters (carry nothing useful),
and a 2-D sinusoidal position code, scaled too (absolute position: helps "top left" and hurts
matching an object part that moved). The first encoder layer then
  - mixes every token with the image's mean token ("globality": semantics everywhere, less
    locality), with queries and keys at zero so attention is uniform, and
  - rectifies the structure responses in its MLP (gelu(x) + gelu(-x) ~ |x|) into dimensions of
    their own: contrast that does not depend on the object's colour ("invariant" weight), which
    is what lets a part be matched across objects of different colours.
The features acsweep takes are the penultimate layer's, i.e. after that first layer. Patch size
and input resolution set the feature grid. Nothing here states or predicts any setting's A, C or
benchmark result: the run measures them."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np

from .weights import write_safetensors

D = 64          # tower width
PATTERNS = 8    # structure patterns
GROUPS = {"colour": 8, "structure": 3 * PATTERNS, "invariant": PATTERNS, "noise": 24}  # sums to D
ACTIVATIONS = {"clip": "quick_gelu", "siglip": "gelu_pytorch_tanh", "dinov2": "gelu"}


@dataclass
class Recipe:
    name: str
    family: str        # clip, siglip, dinov2, torchscript
    patch: int
    resolution: int
    colour: float = 0.0
    structure: float = 0.0
    invariant: float = 0.0
    noise: float = 0.0
    position: float = 0.0
    globality: float = 0.0
    registers: int = 0


ZOO = [
    Recipe("clip-p8", "clip", 8, 64, colour=1.0, structure=0.3, invariant=0.2, noise=0.3, position=0.5, globality=0.7),
    Recipe("clip-p4", "clip", 4, 48, colour=1.0, structure=0.3, invariant=0.2, noise=0.3, position=0.5, globality=0.7),
    Recipe("clip-wide-p4", "clip", 4, 64, colour=1.0, structure=0.5, invariant=0.4, noise=0.2, position=0.3,
           globality=0.5),
    Recipe("siglip-p8", "siglip", 8, 64, colour=1.2, structure=0.2, invariant=0.1, noise=0.2, position=0.3,
           globality=1.0),
    Recipe("siglip-p4", "siglip", 4, 48, colour=1.0, structure=0.4, invariant=0.3, noise=0.3, position=0.3,
           globality=0.6),
    Recipe("dino-p8", "dinov2", 8, 64, colour=0.3, structure=0.5, invariant=1.0, noise=0.2, position=0.1,
           globality=0.1),
    Recipe("dino-p4", "dinov2", 4, 48, colour=0.3, structure=0.5, invariant=1.0, noise=0.2, position=0.1,
           globality=0.1),
    Recipe("dino-reg-p4", "dinov2", 4, 64, colour=0.5, structure=0.6, invariant=1.0, noise=0.2, position=0.2,
           globality=0.2, registers=2),
    Recipe("noisy-p4", "siglip", 4, 32, colour=0.15, structure=0.15, invariant=0.1, noise=1.0, position=0.1),
    Recipe("where-p8", "clip", 8, 64, colour=0.3, structure=0.2, invariant=0.1, noise=0.2, position=2.0,
           globality=0.3),
    Recipe("diffusion-cnn", "torchscript", 4, 64),
]
COMBINATIONS = ["clip-p8+dino-p8", "siglip-p4+dino-p4", "clip-wide-p4+dino-reg-p4", "siglip-p8+diffusion-cnn"]


def patterns(p: int) -> np.ndarray:
    """[PATTERNS, p, p] zero-mean contrast masks of unit norm."""
    y, x = np.mgrid[0:p, 0:p] + 0.5
    left, top = (x < p / 2), (y < p / 2)
    centre = (abs(x - p / 2) < p / 4) & (abs(y - p / 2) < p / 4)
    masks = [left, top, left & top, ~left & top, left & ~top, ~left & ~top, centre, (left == top)]
    out = []
    for m in masks:
        m = m.astype(np.float64)
        m -= m.mean()
        out.append(m / np.linalg.norm(m))
    return np.stack(out)


def patch_filters(r: Recipe, rng) -> np.ndarray:
    """[D, 3, P, P]: the colour, structure, invariant (empty here) and noise groups."""
    P = r.patch
    w = np.zeros((D, 3, P, P))
    at = 0
    for _ in range(GROUPS["colour"]):  # mean colour through a random mix, unit response to a unit colour
        mix = rng.standard_normal(3)
        w[at] = r.colour * np.broadcast_to(mix[:, None, None] / np.linalg.norm(mix) / P, (3, P, P))
        at += 1
    bank = patterns(P)
    for k in range(PATTERNS):
        for ch in range(3):
            w[at, ch] = r.structure * bank[k]
            at += 1
    at += GROUPS["invariant"]  # written by the first layer's MLP
    for _ in range(GROUPS["noise"]):
        w[at] = r.noise * rng.standard_normal((3, P, P))
        at += 1
    assert at == D
    return w


def position_code(grid: int, rng, scale: float) -> np.ndarray:
    """[grid * grid, D]: 2-D sinusoids of the cell, randomly projected to D."""
    y, x = np.mgrid[0:grid, 0:grid] / max(grid - 1, 1)
    feats = []
    for f in (1, 2, 3):
        for v in (x, y):
            feats += [np.sin(math.pi * f * v), np.cos(math.pi * f * v)]
    f = np.stack([v.ravel() for v in feats], 1)
    project = rng.standard_normal((f.shape[1], D)) / math.sqrt(f.shape[1])
    return scale * f @ project


def layers(r: Recipe, rng, first: bool) -> dict:
    """One encoder layer's weights by role (q, k, v, o, fc1, fc2 with biases; ln1, ln2)."""
    I = D
    w = {"ln1.weight": np.ones(D), "ln1.bias": np.zeros(D), "ln2.weight": np.ones(D), "ln2.bias": np.zeros(D)}
    small = lambda *shape: 0.02 * rng.standard_normal(shape)
    if not first:  # the last layer: a small random one (its output is not the feature acsweep takes)
        for k in ("q", "k", "v", "o"):
            w[k + ".weight"], w[k + ".bias"] = small(D, D), np.zeros(D)
        w["fc1.weight"], w["fc1.bias"], w["fc2.weight"], w["fc2.bias"] = small(I, D), np.zeros(I), small(D, I), np.zeros(D)
        return w
    w["q.weight"], w["k.weight"] = np.zeros((D, D)), np.zeros((D, D))  # uniform attention: the mean token
    w["v.weight"], w["o.weight"] = r.globality * np.eye(D), np.eye(D)
    for k in ("q", "k", "v", "o"):
        w[k + ".bias"] = np.zeros(D)
    fc1, fc2 = small(I, D), small(D, I)
    gain = 4.0
    s0 = GROUPS["colour"]
    inv0 = s0 + GROUPS["structure"]
    unit = 0
    for k in range(PATTERNS):  # |response| of pattern k on each channel, summed into invariant dim k
        for ch in range(3):
            if unit + 1 >= I:
                break
            src = s0 + 3 * k + ch
            fc1[unit] = 0
            fc1[unit, src] = gain
            fc1[unit + 1] = 0
            fc1[unit + 1, src] = -gain
            fc2[:, unit] = 0
            fc2[:, unit + 1] = 0
            fc2[inv0 + k, unit] = fc2[inv0 + k, unit + 1] = r.invariant / gain
            unit += 2
    w["fc1.weight"], w["fc1.bias"], w["fc2.weight"], w["fc2.bias"] = fc1, np.zeros(I), fc2, np.zeros(D)
    return w


def tower(r: Recipe, rng):
    """(config, weights with the family's names) of a 2-layer tower."""
    P, G = r.patch, r.resolution // r.patch
    act = ACTIVATIONS[r.family]
    filters = patch_filters(r, rng)
    pos = position_code(G, rng, r.position)
    w = {}
    if r.family == "dinov2":
        cfg = dict(model_type="dinov2", hidden_size=D, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=1,
                   patch_size=P, image_size=r.resolution, layer_norm_eps=1e-6, hidden_act=act,
                   layerscale_value=1.0, architectures=["Dinov2Model"])
        if r.registers:
            cfg.update(model_type="dinov2_with_registers", num_register_tokens=r.registers,
                       architectures=["Dinov2WithRegistersModel"])
            w["embeddings.register_tokens"] = 0.1 * rng.standard_normal((1, r.registers, D))
        w["embeddings.cls_token"] = 0.1 * rng.standard_normal((1, 1, D))
        w["embeddings.mask_token"] = np.zeros((1, D))
        w["embeddings.position_embeddings"] = np.concatenate([np.zeros((1, D)), pos])[None]
        w["embeddings.patch_embeddings.projection.weight"] = filters
        w["embeddings.patch_embeddings.projection.bias"] = np.zeros(D)
        w["layernorm.weight"], w["layernorm.bias"] = np.ones(D), np.zeros(D)
        names = {"q": "attention.attention.query", "k": "attention.attention.key", "v": "attention.attention.value",
                 "o": "attention.output.dense", "fc1": "mlp.fc1", "fc2": "mlp.fc2", "ln1": "norm1", "ln2": "norm2"}
        prefix = "encoder.layer.{}."
    else:
        e = "vision_model.embeddings."
        model_type = "clip_vision_model" if r.family == "clip" else "siglip_vision_model"
        cfg = dict(model_type=model_type, hidden_size=D, intermediate_size=D, num_hidden_layers=2,
                   num_attention_heads=4, patch_size=P, image_size=r.resolution, layer_norm_eps=1e-5,
                   hidden_act=act, num_channels=3,
                   architectures=["CLIPVisionModel" if r.family == "clip" else "SiglipVisionModel"])
        w[e + "patch_embedding.weight"] = filters
        if r.family == "clip":
            w[e + "class_embedding"] = 0.1 * rng.standard_normal(D)
            w[e + "position_embedding.weight"] = np.concatenate([np.zeros((1, D)), pos])
            w["vision_model.pre_layrnorm.weight"], w["vision_model.pre_layrnorm.bias"] = np.ones(D), np.zeros(D)
        else:
            w[e + "patch_embedding.bias"] = np.zeros(D)
            w[e + "position_embedding.weight"] = pos
        w["vision_model.post_layernorm.weight"], w["vision_model.post_layernorm.bias"] = np.ones(D), np.zeros(D)
        names = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.out_proj",
                 "fc1": "mlp.fc1", "fc2": "mlp.fc2", "ln1": "layer_norm1", "ln2": "layer_norm2"}
        prefix = "vision_model.encoder.layers.{}."
    for i in range(2):
        for role, value in layers(r, rng, first=i == 0).items():
            key, kind = role.split(".")
            w[prefix.format(i) + names[key] + "." + kind] = value
        if r.family == "dinov2":
            w[prefix.format(i) + "layer_scale1.lambda1"] = np.ones(D)
            w[prefix.format(i) + "layer_scale2.lambda1"] = np.ones(D)
    return cfg, w


def preprocessor(r: Recipe) -> dict:
    return {"image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"shortest_edge": r.resolution},
            "resample": 3, "do_center_crop": True, "crop_size": {"height": r.resolution, "width": r.resolution},
            "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5] * 3,
            "image_std": [0.5] * 3, "do_convert_rgb": True}


def write_torchscript(r: Recipe, folder: str, seed: int) -> None:
    """A small random CNN (stride 4) with a blur branch, as a TorchScript module and its sidecar:
    the "anything without a native implementation" path (diffusion features in the paper)."""
    import torch

    torch.manual_seed(seed)

    class CNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Conv2d(3, 32, 3, stride=2, padding=1)
            self.b = torch.nn.Conv2d(32, 48, 3, stride=2, padding=1)
            self.blur = torch.nn.AvgPool2d(4, stride=4)

        def forward(self, x):
            h = torch.nn.functional.gelu(self.b(torch.nn.functional.gelu(self.a(x))))
            return torch.cat([h, self.blur(x) * 2.0], 1)

    module = torch.jit.script(CNN().eval())
    module.save(os.path.join(folder, "cnn.pt"))
    with open(os.path.join(folder, "acsweep_encoder.json"), "w") as f:
        json.dump({"module": "cnn.pt", "output_layout": "BCHW", "channels": 51}, f, indent=2)


def build_zoo(root: str, seed: int) -> list:
    """Writes every encoder under root/<name>/; returns the recipes."""
    for i, r in enumerate(ZOO):
        folder = os.path.join(root, r.name)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
            json.dump(preprocessor(r), f, indent=2)
        if r.family == "torchscript":
            write_torchscript(r, folder, seed * 1000 + i)
            continue
        cfg, w = tower(r, np.random.default_rng([seed, i]))
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
        write_safetensors(os.path.join(folder, "model.safetensors"), w, {"format": "pt"})
    return ZOO
