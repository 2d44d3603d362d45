#!/usr/bin/env bash
# The data loader's effect on Stage 1 (bench/loader_bench.cpp): a tiny world whose 48 images are
# rewritten as 640 x 480 photos (the size of LLaVA's data) and its LLM widened (HIDDEN, default
# 128) until a step costs about what preparing its images costs, then Stage 1 with loader_threads
# 0 (the baseline: images prepared on the training thread) and 1; the same steps, bit for bit.
#   cmake --build build --target bench_loader && bench/loader.sh [THREADS...]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/bench/bench_loader
world=$(mktemp -d)
trap 'rm -rf "$world"' EXIT
.venv/bin/python tests/fixtures/tiny_world.py "$world" 0 >/dev/null
.venv/bin/python - "$world" <<'PY'
import json, os, sys
import numpy as np
from PIL import Image
root = sys.argv[1]
os.makedirs(os.path.join(root, "images_large"))
rng = np.random.default_rng(0)
items = json.load(open(os.path.join(root, "captions.json")))
for item in items:
    big = Image.open(os.path.join(root, "images", item["image"])).resize((640, 480), Image.BICUBIC)
    noisy = np.clip(np.asarray(big, np.int16) + rng.integers(-12, 13, (480, 640, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(noisy).save(os.path.join(root, "images_large", item["image"]), quality=90)
json.dump(items, open(os.path.join(root, "captions_large.json"), "w"))
# A wider LLM (same tokenizer), so a step costs about what preparing its images costs.
sys.path.insert(0, "tests/models")
from safetensors_reference import write_tensors
cfg = json.load(open(os.path.join(root, "llm", "config.json")))
V, D, I, L = cfg["vocab_size"], int(os.environ.get("HIDDEN", "128")), 4 * int(os.environ.get("HIDDEN", "128")), 4
cfg.update(hidden_size=D, intermediate_size=I, num_hidden_layers=L, num_attention_heads=8, num_key_value_heads=8)
n = lambda *shape, s=0.05: (s * rng.standard_normal(shape)).astype(np.float32)
w = {"model.embed_tokens.weight": n(V, D, s=0.5), "model.norm.weight": 1 + n(D), "lm_head.weight": n(V, D)}
for i in range(L):
    p = f"model.layers.{i}."
    for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
        w[p + f"self_attn.{proj}.weight"] = n(D, D)
    w[p + "mlp.gate_proj.weight"], w[p + "mlp.up_proj.weight"], w[p + "mlp.down_proj.weight"] = n(I, D), n(I, D), n(D, I)
    w[p + "input_layernorm.weight"], w[p + "post_attention_layernorm.weight"] = 1 + n(D), 1 + n(D)
json.dump(cfg, open(os.path.join(root, "llm", "config.json"), "w"))
write_tensors(os.path.join(root, "llm", "model.safetensors"), {k: ("F32", v) for k, v in w.items()})
PY
OMP_NUM_THREADS=1 "$bin" "$world" 0 "${@:-1}"
