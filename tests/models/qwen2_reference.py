#!/usr/bin/env python3
"""A tiny random Qwen2ForCausalLM from transformers (the golden reference), saved as an HF folder
with save_pretrained, with input ids and the logits transformers computes for them.

Every bias and norm weight is drawn away from its initial zero or one, so that a decoder which
ignored them would not agree.

    qwen2_reference.py FOLDER SEED TIE"""

import json
import os
import sys

import torch
import transformers
from safetensors.torch import save_file


def main():
    folder, seed, tie = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    torch.manual_seed(seed)
    config = transformers.Qwen2Config(
        vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=3, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, rope_theta=1000000.0, rms_norm_eps=1e-6,
        tie_word_embeddings=tie, use_sliding_window=False, max_window_layers=2, sliding_window=4)
    model = transformers.Qwen2ForCausalLM(config).eval()
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if name.endswith("bias"):
                parameter.normal_(0.0, 0.5)
            elif "norm" in name:
                parameter.normal_(1.0, 0.1)
    model.save_pretrained(folder)
    ids = torch.randint(0, config.vocab_size, (2, 11), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float().contiguous()
    save_file({"logits": logits}, os.path.join(folder, "expected.safetensors"))
    with open(os.path.join(folder, "ids.json"), "w") as f:
        json.dump(ids.tolist(), f)


if __name__ == "__main__":
    main()
