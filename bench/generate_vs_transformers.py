#!/usr/bin/env python3
"""Greedy generation: acsweep with the KV cache, acsweep without it (the whole sequence rerun at
every step), and transformers' generate() (greedy, its own cache), on the same random Llama,
prompts and threads. Prints new tokens/s of each, the ratios, and whether all three produced the
same tokens.

    cmake --build build --target bench_generate
    OMP_NUM_THREADS=1 .venv/bin/python bench/generate_vs_transformers.py [build/bench/bench_generate]

The model (hidden 512, 8 layers, 8 heads with 4 KV heads, vocabulary 32000: about 60M parameters)
is written once into ${BENCH_DIR:-/tmp/acsweep_generate}; 4 prompts of 40 to 100 tokens, 64 new
tokens each, no EOS (every row runs to the end)."""

import json
import os
import subprocess
import sys
import time

import torch
import transformers as tf

BIN = sys.argv[1] if len(sys.argv) > 1 else "build/bench/bench_generate"
FOLDER = os.environ.get("BENCH_DIR", "/tmp/acsweep_generate")
NEW = 64
threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
torch.set_num_threads(threads)
torch.manual_seed(0)
if not os.path.exists(os.path.join(FOLDER, "prompts.json")):
    cfg = tf.LlamaConfig(vocab_size=32000, hidden_size=512, intermediate_size=1376, num_hidden_layers=8,
                         num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=512,
                         initializer_range=0.2)
    tf.LlamaForCausalLM(cfg).save_pretrained(FOLDER, safe_serialization=True)
    prompts = [torch.randint(3, 32000, (n,)).tolist() for n in (40, 100, 70, 55)]
    with open(os.path.join(FOLDER, "prompts.json"), "w") as f:
        json.dump({"prompts": prompts, "max_new_tokens": NEW}, f)
setup = json.load(open(os.path.join(FOLDER, "prompts.json")))
model = tf.LlamaForCausalLM.from_pretrained(FOLDER, torch_dtype=torch.float32).eval()
width = max(map(len, setup["prompts"]))
ids = torch.tensor([[0] * (width - len(p)) + p for p in setup["prompts"]])
mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in setup["prompts"]])


def hf():
    with torch.no_grad():
        return model.generate(input_ids=ids, attention_mask=mask, do_sample=False, num_beams=1, max_new_tokens=NEW,
                              min_new_tokens=NEW, pad_token_id=0, eos_token_id=None, bos_token_id=None)


hf()  # warm-up, as best_of.hpp does
best = 1e30
for _ in range(2):
    start = time.perf_counter()
    out = hf()
    best = min(best, time.perf_counter() - start)
hf_tokens = out[:, width:].tolist()
hf_rate = sum(map(len, hf_tokens)) / best
runs = {mode: json.loads(subprocess.run([BIN, FOLDER, mode], check=True, capture_output=True, text=True,
                                        env={**os.environ, "OMP_NUM_THREADS": str(threads)}).stdout)
        for mode in ("cache", "nocache")}
cache, nocache = runs["cache"], runs["nocache"]
print(f"{threads} thread(s), {len(ids)} prompts of {min(map(len, setup['prompts']))}-{width} tokens, {NEW} new tokens each")
print(f"  acsweep with cache:    {cache['tokens_per_s']:8.1f} tokens/s")
print(f"  acsweep without cache: {nocache['tokens_per_s']:8.1f} tokens/s  (cache {cache['tokens_per_s'] / nocache['tokens_per_s']:.2f}x)")
print(f"  transformers generate: {hf_rate:8.1f} tokens/s  (acsweep {cache['tokens_per_s'] / hf_rate:.2f}x transformers)")
same = cache["tokens"] == nocache["tokens"] == hf_tokens
print(f"  same tokens in all three: {same}")
sys.exit(0 if same else 1)
