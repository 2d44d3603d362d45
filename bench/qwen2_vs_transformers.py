#!/usr/bin/env python3
"""Qwen2 in acsweep against transformers, side by side with the same threads (issue: the paper's
second LLM). Builds a Qwen2ForCausalLM from a config (hidden 512, 4 layers, 8 query and 2
key-value heads, vocabulary 4096) with transformers, saves it with save_pretrained beside a
byte-level BPE tokenizer.json trained by the tokenizers library with Qwen2's pre-tokenizer
(tests/models/bpe_reference.py), then times:
- the LLM forward of 512 tokens (float32, eager attention as transformers' sdpa), tokens/s;
- encoding 2000 varied texts one at a time, texts/s and MB/s: acsweep's native tokenizer against
  the tokenizers library called per text from Python (as transformers calls it) and in one
  encode_batch call (Rust's own loop, RAYON_NUM_THREADS as --threads).
Prints each throughput and the ratio acsweep / reference (above 1: acsweep is faster).

    .venv/bin/python bench/qwen2_vs_transformers.py [--threads 1] [--bench build/bench/bench_qwen2]"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models_vs_pytorch import best_seconds  # noqa: E402


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--threads", type=int, default=1)
    args.add_argument("--bench", default="build/bench/bench_qwen2")
    a = args.parse_args()
    os.environ["RAYON_NUM_THREADS"] = str(a.threads)
    torch.set_num_threads(a.threads)
    import transformers
    from tokenizers import Tokenizer

    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "tests", "models"))
    from bpe_reference import texts as varied_texts

    with tempfile.TemporaryDirectory() as root:
        torch.manual_seed(0)
        config = transformers.Qwen2Config(vocab_size=4096, hidden_size=512, intermediate_size=1376,
                                          num_hidden_layers=4, num_attention_heads=8, num_key_value_heads=2,
                                          max_position_embeddings=1024, rope_theta=1000000.0,
                                          tie_word_embeddings=False, use_sliding_window=False)
        model = transformers.Qwen2ForCausalLM(config).eval()
        model.save_pretrained(root)
        subprocess.run([sys.executable, os.path.join(here, "..", "tests", "models", "bpe_reference.py"), root, "qwen2",
                        "10"], check=True)
        texts = varied_texts(2000, 3)
        with open(os.path.join(root, "bench_texts.json"), "w") as f:
            json.dump(texts, f)
        ours = json.loads(subprocess.run([a.bench, root, str(a.threads), os.path.join(root, "bench_texts.json")],
                                         check=True, capture_output=True, text=True).stdout)
        tok = Tokenizer.from_file(os.path.join(root, "tokenizer.json"))
        ids = torch.randint(0, config.vocab_size, (1, 512))
        with torch.no_grad():
            hf_tokens = 512 / best_seconds(5, lambda: model(input_ids=ids))
        per_text = best_seconds(3, lambda: [tok.encode(t, add_special_tokens=False) for t in texts])
        batch = best_seconds(3, lambda: tok.encode_batch(texts, add_special_tokens=False))
        count = sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
        assert count == ours["tokens"], (count, ours["tokens"])  # the same tokens, or the timing is moot
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    print(f"threads: {a.threads} (torch {torch.__version__}, transformers {transformers.__version__})")
    print(f"Qwen2 forward (512x4, 512 tokens): acsweep {ours['llm_tokens_per_s']:.0f} tokens/s, "
          f"transformers {hf_tokens:.0f} tokens/s, ratio {ours['llm_tokens_per_s'] / hf_tokens:.2f}")
    print(f"tokenizer.json encode ({len(texts)} texts, {megabytes:.2f} MB, {count} tokens): acsweep "
          f"{ours['tokenizer_texts_per_s']:.0f} texts/s ({ours['tokenizer_mb_per_s']:.1f} MB/s); tokenizers per text "
          f"{len(texts) / per_text:.0f} texts/s, ratio {ours['tokenizer_texts_per_s'] * per_text / len(texts):.2f}; "
          f"encode_batch {len(texts) / batch:.0f} texts/s, ratio {ours['tokenizer_texts_per_s'] * batch / len(texts):.2f}")


if __name__ == "__main__":
    main()
