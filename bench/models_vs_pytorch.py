#!/usr/bin/env python3
"""acsweep's model forward passes against the same models in PyTorch (the .venv's
torch 2.13, the library acsweep links), side by side
with the same number of threads. Writes a CLIP-style ViT (patch 16, 224 px, hidden 384, 6 layers)
and a Llama (4 layers, hidden 256, vocab 1000) as HF folders, runs build/bench/bench_models on
them, runs the same forward passes in PyTorch eager (float32, the operations the models are made
of), and prints throughput and the ratio C++ / PyTorch (above 1: acsweep is faster). Also the C
score's matching time as a share of the feature extraction of the same pair.

    .venv/bin/python bench/models_vs_pytorch.py [--threads 1] [--bench build/bench/bench_models]"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "models"))
from safetensors_reference import write_tensors  # noqa: E402

VIT = dict(model_type="clip_vision_model", hidden_size=384, intermediate_size=1536, num_hidden_layers=6,
           num_attention_heads=6, image_size=224, patch_size=16, layer_norm_eps=1e-5, hidden_act="quick_gelu")
LLAMA = dict(model_type="llama", vocab_size=1000, hidden_size=256, intermediate_size=688, num_hidden_layers=4,
             num_attention_heads=8, num_key_value_heads=8, rms_norm_eps=1e-5, rope_theta=10000.0,
             tie_word_embeddings=False, max_position_embeddings=512)


def write_models(root, rng):
    n = lambda *shape: (0.05 * rng.standard_normal(shape)).astype(np.float32)
    D, I, P = VIT["hidden_size"], VIT["intermediate_size"], VIT["patch_size"]
    G = VIT["image_size"] // P
    vit = {"vision_model.embeddings.class_embedding": n(D), "vision_model.embeddings.patch_embedding.weight": n(D, 3, P, P),
           "vision_model.embeddings.position_embedding.weight": n(G * G + 1, D),
           "vision_model.pre_layrnorm.weight": 1 + n(D), "vision_model.pre_layrnorm.bias": n(D)}
    for i in range(VIT["num_hidden_layers"]):
        p = f"vision_model.encoder.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            vit[p + f"self_attn.{proj}.weight"], vit[p + f"self_attn.{proj}.bias"] = n(D, D), n(D)
        vit[p + "mlp.fc1.weight"], vit[p + "mlp.fc1.bias"] = n(I, D), n(I)
        vit[p + "mlp.fc2.weight"], vit[p + "mlp.fc2.bias"] = n(D, I), n(D)
        for norm in ("layer_norm1", "layer_norm2"):
            vit[p + f"{norm}.weight"], vit[p + f"{norm}.bias"] = 1 + n(D), n(D)
    os.makedirs(os.path.join(root, "vit"))
    json.dump(VIT, open(os.path.join(root, "vit", "config.json"), "w"))
    json.dump({"size": {"shortest_edge": 224}, "do_center_crop": True, "crop_size": 224},
              open(os.path.join(root, "vit", "preprocessor_config.json"), "w"))
    write_tensors(os.path.join(root, "vit", "model.safetensors"), {k: ("F32", v) for k, v in vit.items()})

    V, D, I = LLAMA["vocab_size"], LLAMA["hidden_size"], LLAMA["intermediate_size"]
    llama = {"model.embed_tokens.weight": n(V, D), "model.norm.weight": 1 + n(D), "lm_head.weight": n(V, D)}
    for i in range(LLAMA["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            llama[p + f"self_attn.{proj}.weight"] = n(D, D)
        llama[p + "mlp.gate_proj.weight"], llama[p + "mlp.up_proj.weight"], llama[p + "mlp.down_proj.weight"] = \
            n(I, D), n(I, D), n(D, I)
        llama[p + "input_layernorm.weight"], llama[p + "post_attention_layernorm.weight"] = 1 + n(D), 1 + n(D)
    os.makedirs(os.path.join(root, "llama"))
    json.dump(LLAMA, open(os.path.join(root, "llama", "config.json"), "w"))
    write_tensors(os.path.join(root, "llama", "model.safetensors"), {k: ("F32", v) for k, v in llama.items()})
    return ({k: torch.from_numpy(v) for k, v in vit.items()}, {k: torch.from_numpy(v) for k, v in llama.items()})


def attention(q, k, v, heads):  # fused, as acsweep's models/attention does
    B, T, D = q.shape
    split = lambda t: t.view(B, T, heads, D // heads).transpose(1, 2)
    return F.scaled_dot_product_attention(split(q), split(k), split(v)).transpose(1, 2).reshape(B, T, D)


def vit_forward(w, pixels, layers=VIT["num_hidden_layers"] - 1):  # the penultimate hidden state
    D, P = VIT["hidden_size"], VIT["patch_size"]
    x = F.conv2d(pixels, w["vision_model.embeddings.patch_embedding.weight"], stride=P).flatten(2).transpose(1, 2)
    cls = w["vision_model.embeddings.class_embedding"].expand(x.shape[0], 1, D)
    x = torch.cat([cls, x], 1) + w["vision_model.embeddings.position_embedding.weight"]
    ln = lambda t, p: F.layer_norm(t, (D,), w[p + ".weight"], w[p + ".bias"], 1e-5)
    lin = lambda t, p: F.linear(t, w[p + ".weight"], w[p + ".bias"])
    x = ln(x, "vision_model.pre_layrnorm")
    for i in range(layers):
        p = f"vision_model.encoder.layers.{i}."
        h = ln(x, p + "layer_norm1")
        x = x + lin(attention(lin(h, p + "self_attn.q_proj"), lin(h, p + "self_attn.k_proj"),
                              lin(h, p + "self_attn.v_proj"), VIT["num_attention_heads"]), p + "self_attn.out_proj")
        m = lin(ln(x, p + "layer_norm2"), p + "mlp.fc1")
        x = x + lin(m * torch.sigmoid(1.702 * m), p + "mlp.fc2")
    return x[:, 1:]


def llama_forward(w, ids):
    D, H = LLAMA["hidden_size"], LLAMA["num_attention_heads"]
    d, (B, T) = D // H, ids.shape
    inv = 1.0 / (LLAMA["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    angles = torch.outer(torch.arange(T, dtype=torch.float32), inv)
    cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)
    rope = lambda t: t * cos + torch.cat([-t[..., d // 2:], t[..., :d // 2]], -1) * sin
    norm = lambda t, weight: t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + 1e-5) * weight
    x = F.embedding(ids, w["model.embed_tokens.weight"])
    for i in range(LLAMA["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = norm(x, w[p + "input_layernorm.weight"])
        q, k, v = (F.linear(h, w[p + f"self_attn.{n}_proj.weight"]).view(B, T, H, d).transpose(1, 2) for n in "qkv")
        a = F.scaled_dot_product_attention(rope(q), rope(k), v, is_causal=True)
        x = x + F.linear(a.transpose(1, 2).reshape(B, T, D), w[p + "self_attn.o_proj.weight"])
        h = norm(x, w[p + "post_attention_layernorm.weight"])
        x = x + F.linear(F.silu(F.linear(h, w[p + "mlp.gate_proj.weight"])) * F.linear(h, w[p + "mlp.up_proj.weight"]),
                         w[p + "mlp.down_proj.weight"])
    return F.linear(norm(x, w["model.norm.weight"]), w["lm_head.weight"])


def best_seconds(repeats, f):
    f()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--threads", type=int, default=1)
    args.add_argument("--bench", default="build/bench/bench_models")
    a = args.parse_args()
    torch.set_num_threads(a.threads)
    with tempfile.TemporaryDirectory() as root:
        vit, llama = write_models(root, np.random.default_rng(0))
        ours = json.loads(subprocess.run([a.bench, root, str(a.threads)], check=True, capture_output=True,
                                         text=True).stdout)
    with torch.no_grad():
        pixels, ids = torch.randn(8, 3, 224, 224), torch.randint(0, LLAMA["vocab_size"], (1, 256))
        torch_images = 8 / best_seconds(5, lambda: vit_forward(vit, pixels))
        torch_tokens = 256 / best_seconds(5, lambda: llama_forward(llama, ids))
    print(f"threads: {a.threads} (torch {torch.__version__})")
    print(f"encoder forward (ViT 384x6, 224 px, batch 8): acsweep {ours['encoder_images_per_s']:.1f} images/s, "
          f"PyTorch {torch_images:.1f} images/s, ratio {ours['encoder_images_per_s'] / torch_images:.2f}")
    print(f"LLM forward (Llama 256x4, 256 tokens): acsweep {ours['llm_tokens_per_s']:.0f} tokens/s, "
          f"PyTorch {torch_tokens:.0f} tokens/s, ratio {ours['llm_tokens_per_s'] / torch_tokens:.2f}")
    share = ours["pair_match_s"] / ours["pair_features_s"]
    share_up = ours["pair_match_upsampled_s"] / ours["pair_features_s"]
    print(f"C score per pair: features {1e3 * ours['pair_features_s']:.1f} ms, matching 10 keypoints "
          f"{1e3 * ours['pair_match_s']:.2f} ms on the 14x14 grid ({100 * share:.2f}% of the features), "
          f"{1e3 * ours['pair_match_upsampled_s']:.1f} ms upsampled to 224x224 ({100 * share_up:.1f}%)")


if __name__ == "__main__":
    main()
