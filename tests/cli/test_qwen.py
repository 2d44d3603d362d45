"""A sweep with a Qwen2 LLM end to end: the tiny world's encoders and data with a Qwen2ForCausalLM
that transformers builds from a config and saves, its tokenizer a byte-level BPE tokenizer.json
(tests/models/bpe_reference.py) with <|im_end|> as EOS, and [llm] template = qwen_2. Stage 1, the
A and C scores, Stage 2 and both benchmark kinds run through the Qwen2 decoder and the native
tokenizer; the finetuned LLaVA folder loads back into transformers' Qwen2ForCausalLM with the
tokenizer.json beside it."""

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from test_scoring import FINETUNE, WORLD, write_job

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("qwen")
    subprocess.run([sys.executable, WORLD, str(folder / "world"), "2"], check=True)
    qwen = folder / "qwen"
    subprocess.run([sys.executable, f"{MODELS}/bpe_reference.py", str(qwen), "qwen2", "10"], check=True)
    import tokenizers
    import torch
    import transformers
    vocab = tokenizers.Tokenizer.from_file(str(qwen / "tokenizer.json")).get_vocab_size(with_added_tokens=True)
    torch.manual_seed(0)
    config = transformers.Qwen2Config(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                                      rope_theta=1000000.0, tie_word_embeddings=True, use_sliding_window=False)
    transformers.Qwen2ForCausalLM(config).save_pretrained(qwen)
    return folder


def test_a_qwen2_sweep_runs_in_the_qwen_2_template(acsweep, world):
    job = write_job(world, FINETUNE.replace("folder = world/llm", "folder = qwen\ntemplate = qwen_2"), "qwen.ini")
    done = acsweep("run", job, "--set", "job.output=out_qwen")
    assert "finetuned setting" in done.stdout, done.stderr
    with h5py.File(world / "out_qwen" / "segments" / "segment-0001.h5", "r") as f:
        for name in ("A", "C"):
            assert np.all(np.isfinite(f["scores/" + name][()])), name
        loss = f["tasks/per_sample/stage2_loss"][()]
        assert np.isfinite(loss[np.isfinite(loss)]).all() and np.isfinite(loss).any()
        for name in ("shapes", "yes_no"):
            assert np.all(np.isfinite(f["finetune/" + name][()])), name
    # The finetuned model: LLaVA-NeXT's class name, the LLM loadable by transformers as Qwen2, the
    # tokenizer.json and its config beside it.
    import transformers
    model = next((world / "out_qwen" / "stage2").glob("*/llava-clip"))
    config = json.loads((model / "config.json").read_text())
    assert config["architectures"] == ["LlavaQwenForCausalLM"] and config["model_type"] == "qwen2"
    llm, info = transformers.Qwen2ForCausalLM.from_pretrained(model, output_loading_info=True)
    assert not info["missing_keys"] and all(k.startswith("model.mm_projector") for k in info["unexpected_keys"])
    assert (model / "tokenizer.json").is_file() and (model / "tokenizer_config.json").is_file()
    # Generated answers: each cut at the end-of-turn token, <|im_end|>.
    generated = acsweep("run", job, "--set", "job.output=out_qwen_gen", "--set", "finetune.answers=generate",
                        "--set", "finetune.max_new_tokens=4")
    assert "finetuned setting" in generated.stdout, generated.stderr
    predictions = [json.loads(line) for p in (world / "out_qwen_gen" / "predictions").rglob("*.jsonl") for line in p.open()]
    assert predictions and all("<|im" not in str(p) for p in predictions)

    # A different template is a different Stage 2: its finetune task has another hash.
    def finetune_line(*sets):
        args = ["run", job, "--set", "job.output=out_qwen", "--dry-run"]
        for s in sets:
            args += ["--set", s]
        return [line for line in acsweep(*args).stdout.splitlines() if "clip (finetune)" in line]

    qwen, vicuna = finetune_line(), finetune_line("llm.template=vicuna_v1")
    assert len(qwen) == len(vicuna) == 1 and qwen != vicuna
