#!/usr/bin/env python3
"""One training step of a small Llama (4 layers, hidden 256, vocab 1000; batch 4 x 128 tokens:
forward, next-token cross-entropy, backward, AdamW) in acsweep's C++ (build/bench/bench_train_step)
and in PyTorch (the .venv's torch 2.13, the library acsweep links; eager, torch.optim.AdamW) with the same threads. Prints
tokens per second and the ratio of step times acsweep / PyTorch (at most 1.0 is the goal).

    .venv/bin/python bench/train_step_vs_pytorch.py [--threads 1] [--bench build/bench/bench_train_step]"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_vs_pytorch import LLAMA, llama_forward  # noqa: E402  (the same forward as the inference bench)


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--threads", type=int, default=1)
    args.add_argument("--bench", default="build/bench/bench_train_step")
    a = args.parse_args()
    ours = json.loads(subprocess.run([a.bench, str(a.threads)], check=True, capture_output=True, text=True).stdout)

    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    V, D, I = LLAMA["vocab_size"], LLAMA["hidden_size"], LLAMA["intermediate_size"]
    shapes = {"model.embed_tokens.weight": (V, D), "model.norm.weight": (D,), "lm_head.weight": (V, D)}
    for i in range(LLAMA["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for proj in "qkvo":
            shapes[p + f"self_attn.{proj}_proj.weight"] = (D, D)
        shapes[p + "mlp.gate_proj.weight"] = shapes[p + "mlp.up_proj.weight"] = (I, D)
        shapes[p + "mlp.down_proj.weight"] = (D, I)
        shapes[p + "input_layernorm.weight"] = shapes[p + "post_attention_layernorm.weight"] = (D,)
    w = {k: torch.nn.Parameter(torch.randn(s) * 0.02 if len(s) == 2 else torch.ones(s)) for k, s in shapes.items()}
    optimizer = torch.optim.AdamW(w.values(), lr=1e-4, weight_decay=0.0)
    B, T = 4, 128
    ids = torch.randint(0, V, (B, T + 1))

    def step():
        optimizer.zero_grad(set_to_none=True)
        logits = llama_forward(w, ids[:, :T])
        loss = F.cross_entropy(logits.reshape(B * T, -1), ids[:, 1:].reshape(-1))
        loss.backward()
        optimizer.step()

    step()
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    print(f"threads: {a.threads} (torch {torch.__version__})")
    print(f"training step (Llama 256x4, 4 x 128 tokens): acsweep {ours['tokens_per_s']:.0f} tokens/s "
          f"({1e3 * ours['step_s']:.1f} ms), PyTorch {B * T / best:.0f} tokens/s ({1e3 * best:.1f} ms), "
          f"time ratio acsweep / PyTorch {ours['step_s'] / best:.2f}")


if __name__ == "__main__":
    main()
