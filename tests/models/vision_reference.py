#!/usr/bin/env python3
"""A second implementation of the native vision towers, written differently from
src/models/vision_transformer.cpp: float64, patches cut out by unfolding and multiplied rather than
convolved, layer norm by hand, attention one head at a time with einsum, and the antialiased
resampling of position tables written out in NumPy (Pillow's separable kernel, in floating point).
Writes a tiny random tower as an HF folder (config.json, model.safetensors,
preprocessor_config.json) with pixels and the hidden states it computes.

    vision_reference.py FOLDER FAMILY SEED [ACT]
    FAMILY: clip, siglip, siglip2, dinov2, dinov2_registers"""

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_reference import write_tensors  # noqa: E402


def kernel(name, x):
    x = abs(x)
    if name == "bilinear":
        return max(0.0, 1.0 - x)
    a = -0.5
    if x < 1:
        return ((a + 2) * x - (a + 3)) * x * x + 1
    if x < 2:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def resample_matrix(n_in, n_out, name):
    """Rows: the normalised antialiased weights of each output sample (as Pillow and PyTorch's _aa)."""
    scale = n_in / n_out
    fscale = max(scale, 1.0)
    support = (1.0 if name == "bilinear" else 2.0) * fscale
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        centre = (o + 0.5) * scale
        lo, hi = max(int(centre - support + 0.5), 0), min(int(centre + support + 0.5), n_in)
        w = np.array([kernel(name, (i - centre + 0.5) / fscale) for i in range(lo, hi)])
        m[o, lo:hi] = w / w.sum()
    return m


def cubic_matrix(n_in, n_out, a=-0.75):
    """Rows: plain bicubic convolution weights (no antialiasing, edges clamped), align_corners=False."""
    scale = n_in / n_out
    near = lambda x: ((a + 2) * x - (a + 3)) * x * x + 1
    far = lambda x: ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        real = scale * (o + 0.5) - 0.5
        first = math.floor(real)
        t = real - first
        for k, w in enumerate((far(t + 1), near(t), near(1 - t), far(2 - t))):
            m[o, min(max(first - 1 + k, 0), n_in - 1)] += w
    return m


def resize_table(table, side, gh, gw, name):
    """table [side*side, D] -> [gh*gw, D] resampled over the square grid: "bilinear" antialiased
    (SigLIP2), "bicubic" plain (DINOv2, as transformers' interpolate_pos_encoding), "bicubic_aa"
    antialiased, Pillow's kernel (DINOv2 with registers)."""
    grid = table.reshape(side, side, -1)
    if name in ("bilinear", "bicubic_aa"):
        kernel = name.replace("_aa", "")
        rows, cols = resample_matrix(side, gh, kernel), resample_matrix(side, gw, kernel)
    else:
        rows, cols = cubic_matrix(side, gh), cubic_matrix(side, gw)
    return np.einsum("ys,xt,stc->yxc", rows, cols, grid).reshape(gh * gw, -1)


def main():
    folder, family, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    act = sys.argv[4] if len(sys.argv) > 4 else None
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(seed)
    D, I, P, L, H = 32, 48, 4, 3, 4
    image, registers = 16, 2 if family == "dinov2_registers" else 0
    G = image // P
    n = lambda *shape, s=0.2: (s * rng.standard_normal(shape)).astype(np.float32)
    cfg = dict(hidden_size=D, num_hidden_layers=L, num_attention_heads=H, patch_size=P, image_size=image)
    w = {}
    if family == "clip":
        act = act or "quick_gelu"
        cfg.update(model_type="clip_vision_model", intermediate_size=I, layer_norm_eps=1e-5, hidden_act=act)
    elif family in ("siglip", "siglip2"):
        act = "gelu_pytorch_tanh"
        cfg.update(model_type=family + "_vision_model", intermediate_size=I, layer_norm_eps=1e-6, hidden_act=act)
        if family == "siglip2":
            cfg.update(num_patches=G * G)
            del cfg["image_size"]
    else:
        act = "gelu"
        cfg.update(model_type="dinov2_with_registers" if registers else "dinov2", mlp_ratio=I / D,
                   layer_norm_eps=1e-6, layerscale_value=1.0, use_swiglu_ffn=False, hidden_act=act)
        if registers:
            cfg["num_register_tokens"] = registers
    eps = cfg["layer_norm_eps"]

    dinov2 = family.startswith("dinov2")
    if dinov2:
        w["embeddings.cls_token"] = n(1, 1, D, s=1.0)
        w["embeddings.mask_token"] = n(1, D)
        w["embeddings.position_embeddings"] = n(1, G * G + 1, D, s=0.5)
        w["embeddings.patch_embeddings.projection.weight"] = n(D, 3, P, P, s=0.1)
        w["embeddings.patch_embeddings.projection.bias"] = n(D, s=0.1)
        if registers:
            w["embeddings.register_tokens"] = n(1, registers, D, s=1.0)
        w["layernorm.weight"], w["layernorm.bias"] = 1 + n(D, s=0.1), n(D, s=0.1)
    else:
        e = "vision_model.embeddings."
        if family == "clip":
            w[e + "class_embedding"] = n(D, s=1.0)
            w[e + "patch_embedding.weight"] = n(D, 3, P, P, s=0.1)
            w[e + "position_embedding.weight"] = n(G * G + 1, D, s=0.5)
            w["vision_model.pre_layrnorm.weight"] = 1 + n(D, s=0.1)
            w["vision_model.pre_layrnorm.bias"] = n(D, s=0.1)
        elif family == "siglip":
            w[e + "patch_embedding.weight"] = n(D, 3, P, P, s=0.1)
            w[e + "patch_embedding.bias"] = n(D, s=0.1)
            w[e + "position_embedding.weight"] = n(G * G, D, s=0.5)
        else:
            w[e + "patch_embedding.weight"] = n(D, P * P * 3, s=0.1)
            w[e + "patch_embedding.bias"] = n(D, s=0.1)
            w[e + "position_embedding.weight"] = n(G * G, D, s=0.5)
        w["vision_model.post_layernorm.weight"] = 1 + n(D, s=0.1)
        w["vision_model.post_layernorm.bias"] = n(D, s=0.1)
    for i in range(L):
        if dinov2:
            p = f"encoder.layer.{i}."
            names = {"q": "attention.attention.query", "k": "attention.attention.key",
                     "v": "attention.attention.value", "o": "attention.output.dense", "ln1": "norm1",
                     "ln2": "norm2"}
            w[p + "layer_scale1.lambda1"], w[p + "layer_scale2.lambda1"] = 0.5 + n(D, s=0.3), 0.5 + n(D, s=0.3)
        else:
            p = f"vision_model.encoder.layers.{i}."
            names = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj",
                     "o": "self_attn.out_proj", "ln1": "layer_norm1", "ln2": "layer_norm2"}
        for key in ("q", "k", "v", "o"):
            w[p + names[key] + ".weight"], w[p + names[key] + ".bias"] = n(D, D), n(D, s=0.1)
        w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"] = n(I, D), n(I, s=0.1)
        w[p + "mlp.fc2.weight"], w[p + "mlp.fc2.bias"] = n(D, I), n(D, s=0.1)
        for key in ("ln1", "ln2"):
            w[p + names[key] + ".weight"], w[p + names[key] + ".bias"] = 1 + n(D, s=0.1), n(D, s=0.1)

    t = {k: torch.from_numpy(v).double() for k, v in w.items()}

    def layer_norm(v, prefix):
        mu = v.mean(-1, keepdim=True)
        var = ((v - mu) ** 2).mean(-1, keepdim=True)
        return (v - mu) / torch.sqrt(var + eps) * t[prefix + ".weight"] + t[prefix + ".bias"]

    def linear(v, prefix):
        return v @ t[prefix + ".weight"].T + t[prefix + ".bias"]

    def activation(m):
        if act == "quick_gelu":
            return m * torch.sigmoid(1.702 * m)
        if act == "gelu_pytorch_tanh":
            return 0.5 * m * (1 + torch.tanh(math.sqrt(2 / math.pi) * (m + 0.044715 * m ** 3)))
        return 0.5 * m * (1 + torch.erf(m / math.sqrt(2)))

    def run(pixels):
        x = torch.from_numpy(pixels).double()
        B, gh, gw = x.shape[0], x.shape[2] // P, x.shape[3] // P
        patches = torch.nn.functional.unfold(x, kernel_size=P, stride=P).transpose(1, 2)  # [B, N, 3*P*P] (c, y, x)
        if family == "siglip2":  # the processor's (y, x, c) order
            patches = patches.reshape(B, -1, 3, P, P).permute(0, 1, 3, 4, 2).reshape(B, -1, P * P * 3)
            tokens = linear(patches, "vision_model.embeddings.patch_embedding")
            table = w["vision_model.embeddings.position_embedding.weight"].astype(np.float64)
            h = tokens + torch.from_numpy(resize_table(table, G, gh, gw, "bilinear"))
        elif dinov2:
            tokens = patches @ t["embeddings.patch_embeddings.projection.weight"].reshape(D, -1).T
            tokens = tokens + t["embeddings.patch_embeddings.projection.bias"]
            pos = w["embeddings.position_embeddings"][0].astype(np.float64)
            mode = "bicubic_aa" if registers else "bicubic"
            table = pos[1:] if (gh, gw) == (G, G) else resize_table(pos[1:], G, gh, gw, mode)
            h = torch.cat([t["embeddings.cls_token"].expand(B, 1, D) + torch.from_numpy(pos[:1]),
                           tokens + torch.from_numpy(table)], 1)
            if registers:
                h = torch.cat([h[:, :1], t["embeddings.register_tokens"].expand(B, registers, D), h[:, 1:]], 1)
        else:
            weight = t["vision_model.embeddings.patch_embedding.weight"].reshape(D, -1)
            tokens = patches @ weight.T
            if family == "siglip":
                tokens = tokens + t["vision_model.embeddings.patch_embedding.bias"]
            pos = t["vision_model.embeddings.position_embedding.weight"]
            if family == "clip":
                cls = t["vision_model.embeddings.class_embedding"].expand(B, 1, D)
                h = layer_norm(torch.cat([cls, tokens], 1) + pos, "vision_model.pre_layrnorm")
            else:
                h = tokens + pos
        states = [h]
        d = D // H
        for i in range(L):
            p = f"encoder.layer.{i}." if dinov2 else f"vision_model.encoder.layers.{i}."
            a = layer_norm(h, p + names["ln1"])
            q, k, v = (linear(a, p + names[key]) for key in ("q", "k", "v"))
            heads = []
            for j in range(H):
                sl = slice(j * d, (j + 1) * d)
                scores = torch.einsum("btd,bsd->bts", q[..., sl], k[..., sl]) / math.sqrt(d)
                heads.append(torch.einsum("bts,bsd->btd", torch.softmax(scores, -1), v[..., sl]))
            attn = linear(torch.cat(heads, -1), p + names["o"])
            h = h + (t[p + "layer_scale1.lambda1"] * attn if dinov2 else attn)
            m = linear(activation(linear(layer_norm(h, p + names["ln2"]), p + "mlp.fc1")), p + "mlp.fc2")
            h = h + (t[p + "layer_scale2.lambda1"] * m if dinov2 else m)
            states.append(h)
        return states

    prefix = 1 + registers if dinov2 else (1 if family == "clip" else 0)
    expected = {}
    for name, (hh, ww) in {"native": (image, image), "other": (24, 20)}.items():
        if family in ("clip", "siglip") and name == "other":
            continue
        pixels = n(2, 3, hh, ww, s=1.0)
        states = run(pixels)
        expected[f"{name}_pixels"] = ("F32", pixels)
        expected[f"{name}_penultimate_patches"] = ("F32", states[-2][:, prefix:].float().numpy())
        expected[f"{name}_last_all"] = ("F32", states[-1].float().numpy())
        expected[f"{name}_embeddings_patches"] = ("F32", states[0][:, prefix:].float().numpy())

    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
        json.dump({"do_resize": True, "size": {"height": image, "width": image}, "resample": 3,
                   "do_rescale": True, "do_normalize": True, "image_mean": [0.5] * 3, "image_std": [0.5] * 3}, f)
    write_tensors(os.path.join(folder, "model.safetensors"), {k: ("F32", v) for k, v in w.items()})
    write_tensors(os.path.join(folder, "expected.safetensors"), expected)


if __name__ == "__main__":
    main()
