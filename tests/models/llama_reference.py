#!/usr/bin/env python3
"""A second implementation of the Llama-family decoder, written differently from
src/models/llama.cpp: float64 PyTorch functions, an explicit loop over attention heads, rotary
embedding applied to the two halves with half-dimension angles. It writes a tiny random model as
an HF folder (config.json, model.safetensors) with input ids and the logits it computes.

    llama_reference.py FOLDER SEED TIE KV_HEADS [--drop KEY | --reshape KEY | --nan KEY]"""

import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_reference import write_tensors  # noqa: E402


def config(tie, kv_heads):
    return dict(model_type="llama", vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                num_attention_heads=4, num_key_value_heads=kv_heads, rms_norm_eps=1e-5, rope_theta=500000.0,
                tie_word_embeddings=tie, max_position_embeddings=64)


def random_weights(cfg, rng):
    D, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    d = D // H
    w = {"model.embed_tokens.weight": rng.standard_normal((V, D)), "model.norm.weight": 1 + 0.1 * rng.standard_normal(D)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "self_attn.q_proj.weight"] = 0.2 * rng.standard_normal((H * d, D))
        w[p + "self_attn.k_proj.weight"] = 0.2 * rng.standard_normal((KV * d, D))
        w[p + "self_attn.v_proj.weight"] = 0.2 * rng.standard_normal((KV * d, D))
        w[p + "self_attn.o_proj.weight"] = 0.2 * rng.standard_normal((D, H * d))
        w[p + "mlp.gate_proj.weight"] = 0.2 * rng.standard_normal((I, D))
        w[p + "mlp.up_proj.weight"] = 0.2 * rng.standard_normal((I, D))
        w[p + "mlp.down_proj.weight"] = 0.2 * rng.standard_normal((D, I))
        w[p + "input_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(D)
        w[p + "post_attention_layernorm.weight"] = 1 + 0.1 * rng.standard_normal(D)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = 0.2 * rng.standard_normal((V, D))
    return {k: v.astype(np.float32) for k, v in w.items()}


def rms_norm(x, weight, eps):
    return weight * x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps)


def forward(w, cfg, ids):
    t = {k: torch.from_numpy(v).double() for k, v in w.items()}
    H, KV, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["rms_norm_eps"]
    d = cfg["hidden_size"] // H
    x = t["model.embed_tokens.weight"][torch.from_numpy(ids)]
    B, T, _ = x.shape
    freq = torch.tensor([cfg["rope_theta"] ** (-2.0 * j / d) for j in range(d // 2)], dtype=torch.float64)
    angle = torch.arange(T, dtype=torch.float64)[:, None] * freq[None, :]  # [T, d/2]
    c, s = torch.cos(angle), torch.sin(angle)

    def rope(v):  # v: [B, T, d]; pairs are (j, j + d/2)
        a, b = v[..., : d // 2], v[..., d // 2:]
        return torch.cat([a * c - b * s, b * c + a * s], dim=-1)

    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms_norm(x, t[p + "input_layernorm.weight"], eps)
        q = h @ t[p + "self_attn.q_proj.weight"].T
        k = h @ t[p + "self_attn.k_proj.weight"].T
        v = h @ t[p + "self_attn.v_proj.weight"].T
        heads = []
        for head in range(H):
            g = head // (H // KV)  # the key/value head this query head shares
            qh = rope(q[..., head * d:(head + 1) * d])
            kh = rope(k[..., g * d:(g + 1) * d])
            vh = v[..., g * d:(g + 1) * d]
            scores = (qh @ kh.transpose(1, 2)) / math.sqrt(d)
            scores = scores.masked_fill(future, float("-inf"))
            heads.append(torch.softmax(scores, dim=-1) @ vh)
        x = x + torch.cat(heads, dim=-1) @ t[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, t[p + "post_attention_layernorm.weight"], eps)
        gate = h @ t[p + "mlp.gate_proj.weight"].T
        x = x + (gate * torch.sigmoid(gate) * (h @ t[p + "mlp.up_proj.weight"].T)) @ t[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, t["model.norm.weight"], eps)
    head = t["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else t["lm_head.weight"]
    return (x @ head.T).float().numpy()


def main():
    folder, seed, tie, kv = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", int(sys.argv[4])
    os.makedirs(folder, exist_ok=True)
    cfg = config(tie, kv)
    rng = np.random.default_rng(seed)
    w = random_weights(cfg, rng)
    ids = rng.integers(0, cfg["vocab_size"], size=(2, 9))
    logits = forward(w, cfg, ids)
    if len(sys.argv) > 6:
        mode, key = sys.argv[5], sys.argv[6]
        if mode == "--drop":
            del w[key]
        elif mode == "--reshape":
            w[key] = w[key][:-1]
        elif mode == "--nan":
            w[key] = w[key].copy()
            w[key].flat[3] = np.nan
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f)
    write_tensors(os.path.join(folder, "model.safetensors"), {k: ("F32", v) for k, v in w.items()})
    write_tensors(os.path.join(folder, "expected.safetensors"), {"logits": ("F32", logits)})
    with open(os.path.join(folder, "ids.json"), "w") as f:
        json.dump(ids.tolist(), f)


if __name__ == "__main__":
    main()
