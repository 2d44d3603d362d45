#!/usr/bin/python3
"""A second implementation of CLIP's vision tower, written differently from
src/models/clip_vision.cpp: float64, patches cut out by unfolding and multiplied rather than
convolved, layer norm by hand, attention one head at a time with einsum. Writes a tiny random
tower as an HF folder with pixels and the features it computes.

    clip_reference.py FOLDER SEED ACT     (ACT: quick_gelu or gelu)"""

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_reference import write_tensors  # noqa: E402


def main():
    folder, seed, act = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    os.makedirs(folder, exist_ok=True)
    cfg = dict(model_type="clip_vision_model", hidden_size=32, intermediate_size=48, num_hidden_layers=3,
               num_attention_heads=4, image_size=32, patch_size=8, layer_norm_eps=1e-5, hidden_act=act)
    rng = np.random.default_rng(seed)
    D, I, P = cfg["hidden_size"], cfg["intermediate_size"], cfg["patch_size"]
    G = cfg["image_size"] // P
    n = lambda *shape, s=0.2: (s * rng.standard_normal(shape)).astype(np.float32)
    w = {"vision_model.embeddings.class_embedding": n(D, s=1.0),
         "vision_model.embeddings.patch_embedding.weight": n(D, 3, P, P, s=0.1),
         "vision_model.embeddings.position_embedding.weight": n(G * G + 1, D, s=0.5),
         "vision_model.pre_layrnorm.weight": 1 + n(D, s=0.1), "vision_model.pre_layrnorm.bias": n(D, s=0.1),
         "vision_model.post_layernorm.weight": 1 + n(D, s=0.1), "vision_model.post_layernorm.bias": n(D, s=0.1)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"vision_model.encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w[p + f"self_attn.{proj}.weight"], w[p + f"self_attn.{proj}.bias"] = n(D, D), n(D, s=0.1)
        w[p + "mlp.fc1.weight"], w[p + "mlp.fc1.bias"] = n(I, D), n(I, s=0.1)
        w[p + "mlp.fc2.weight"], w[p + "mlp.fc2.bias"] = n(D, I), n(D, s=0.1)
        for norm in ("layer_norm1", "layer_norm2"):
            w[p + f"{norm}.weight"], w[p + f"{norm}.bias"] = 1 + n(D, s=0.1), n(D, s=0.1)
    pixels = n(2, 3, cfg["image_size"], cfg["image_size"], s=1.0)

    t = {k: torch.from_numpy(v).double() for k, v in w.items()}
    x = torch.from_numpy(pixels).double()
    eps = cfg["layer_norm_eps"]

    def layer_norm(v, prefix):
        mu = v.mean(-1, keepdim=True)
        var = ((v - mu) ** 2).mean(-1, keepdim=True)
        return (v - mu) / torch.sqrt(var + eps) * t[prefix + ".weight"] + t[prefix + ".bias"]

    def linear(v, prefix):
        return v @ t[prefix + ".weight"].T + t[prefix + ".bias"]

    B = x.shape[0]
    patches = torch.nn.functional.unfold(x, kernel_size=P, stride=P).transpose(1, 2)  # [B, G*G, 3*P*P]
    tokens = patches @ t["vision_model.embeddings.patch_embedding.weight"].reshape(D, -1).T
    cls = t["vision_model.embeddings.class_embedding"].expand(B, 1, D)
    h = torch.cat([cls, tokens], 1) + t["vision_model.embeddings.position_embedding.weight"]
    h = layer_norm(h, "vision_model.pre_layrnorm")
    states = [h]
    H = cfg["num_attention_heads"]
    d = D // H
    for i in range(cfg["num_hidden_layers"]):
        p = f"vision_model.encoder.layers.{i}."
        a = layer_norm(h, p + "layer_norm1")
        q, k, v = (linear(a, p + f"self_attn.{n_}") for n_ in ("q_proj", "k_proj", "v_proj"))
        heads = []
        for j in range(H):
            sl = slice(j * d, (j + 1) * d)
            scores = torch.einsum("btd,bsd->bts", q[..., sl], k[..., sl]) / math.sqrt(d)
            heads.append(torch.einsum("bts,bsd->btd", torch.softmax(scores, -1), v[..., sl]))
        h = h + linear(torch.cat(heads, -1), p + "self_attn.out_proj")
        m = linear(layer_norm(h, p + "layer_norm2"), p + "mlp.fc1")
        m = m * torch.sigmoid(1.702 * m) if act == "quick_gelu" else 0.5 * m * (1 + torch.erf(m / math.sqrt(2)))
        h = h + linear(m, p + "mlp.fc2")
        states.append(h)

    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    write_tensors(os.path.join(folder, "model.safetensors"), {k: ("F32", v) for k, v in w.items()})
    write_tensors(os.path.join(folder, "expected.safetensors"), {
        "pixels": ("F32", pixels),
        "penultimate_patches": ("F32", states[-2][:, 1:].float().numpy()),
        "last_with_class": ("F32", states[-1].float().numpy()),
        "embeddings_patches": ("F32", states[0][:, 1:].float().numpy())})


if __name__ == "__main__":
    main()
