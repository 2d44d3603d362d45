#!/usr/bin/env python3
"""Seed corpora for tests/fuzz/fuzz_parsers.cpp, one folder per target under OUT, made here in the
real formats: the tiny world's files (tests/fixtures/tiny_world.py: LLaVA JSON, benchmark JSONL,
VizWiz, MMBench TSV, MMMU JSONL, SPair-71k pairs, JPEG images, tokenizer.model, safetensors and
configs), transformers' configs of the paper's models, Pillow's PNG and JPEG variants, tokenizers'
tokenizer.json files, the shipped job files and tables, and journal lines as acsweep writes them.

    make_seeds.py OUT"""

import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..", "..")


def put(out, target, name, data):
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def copy(out, target, path, name=None):
    with open(path, "rb") as f:
        put(out, target, name or os.path.basename(path), f.read())


def main():
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    with tempfile.TemporaryDirectory() as tmp:
        world = os.path.join(tmp, "world")
        subprocess.run([sys.executable, os.path.join(REPO, "tests", "fixtures", "tiny_world.py"), world, "1"],
                       check=True, stdout=subprocess.DEVNULL)
        copy(out, "llava_json", os.path.join(world, "captions.json"))
        for name in ("shapes.jsonl", "yes_no.jsonl"):
            copy(out, "benchmark_jsonl", os.path.join(world, name))
        copy(out, "vqa_json", os.path.join(world, "vizwiz", "Annotations", "val.json"))
        copy(out, "mmbench_tsv", os.path.join(world, "mmbench.tsv"))
        copy(out, "mmmu_jsonl", os.path.join(world, "mmmu", "mmmu_validation.jsonl"))
        pairs = sorted(os.listdir(os.path.join(world, "spair", "PairAnnotation", "test")))[:3]
        for name in pairs:
            copy(out, "spair_pair", os.path.join(world, "spair", "PairAnnotation", "test", name))
        images = sorted(os.listdir(os.path.join(world, "images")))[:2]
        for name in images:
            copy(out, "image", os.path.join(world, "images", name))
        copy(out, "tokenizer_model", os.path.join(world, "llm", "tokenizer.model"))
        copy(out, "llm_config", os.path.join(world, "llm", "config.json"), "world.json")
        for encoder in sorted(os.listdir(os.path.join(world, "encoders"))):
            folder = os.path.join(world, "encoders", encoder)
            for name, target in (("config.json", "vision_config"), ("preprocessor_config.json", "preprocessor_config")):
                if os.path.exists(os.path.join(folder, name)):
                    copy(out, target, os.path.join(folder, name), encoder + ".json")

        # tokenizer.json: Qwen2-like (NFC, Split regex, ChatML tokens), Llama-3-like
        # (TemplateProcessing) and GPT-2-like ("a b" merges), trained by tokenizers.
        for variant in ("qwen2", "llama3", "gpt2"):
            folder = os.path.join(tmp, "bpe_" + variant)
            subprocess.run([sys.executable, os.path.join(REPO, "tests", "models", "bpe_reference.py"), folder, variant,
                            "10"], check=True)
            copy(out, "tokenizer_json", os.path.join(folder, "tokenizer.json"), variant + ".json")

    import numpy as np
    import torch
    import transformers
    from PIL import Image
    from safetensors.torch import save

    put(out, "safetensors", "mixed.safetensors",
        save({"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(3, dtype=torch.float16),
              "c": torch.zeros(2, 2, dtype=torch.bfloat16)}, metadata={"format": "pt"}))
    put(out, "safetensors", "empty.safetensors", save({"e": torch.zeros(0)}))
    put(out, "safetensors_index", "index.json",
        json.dumps({"metadata": {"total_size": 16}, "weight_map": {"w": "model-00001-of-00001.safetensors"}}))

    for name, config in (
            ("llama.json", transformers.LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008,
                                                    num_hidden_layers=32, num_attention_heads=32)),
            ("qwen2.json", transformers.Qwen2Config(vocab_size=152064, hidden_size=5120, intermediate_size=13824,
                                                    num_hidden_layers=48, num_attention_heads=40,
                                                    num_key_value_heads=8, use_sliding_window=False))):
        put(out, "llm_config", name, config.to_json_string())
    for name, config in (("clip.json", transformers.CLIPVisionConfig()), ("siglip.json", transformers.SiglipVisionConfig()),
                         ("siglip2.json", transformers.Siglip2VisionConfig()), ("dinov2.json", transformers.Dinov2Config())):
        put(out, "vision_config", name, config.to_json_string())
    # The parts of the paper's diffusion pipelines, as their released config.json files hold them.
    sd15_unet = {"_class_name": "UNet2DConditionModel", "sample_size": 64, "cross_attention_dim": 768,
                 "block_out_channels": [320, 640, 1280, 1280], "attention_head_dim": 8, "layers_per_block": 2,
                 "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
                 "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3, "norm_num_groups": 32}
    sdxl_unet = dict(sd15_unet, sample_size=128, cross_attention_dim=2048, block_out_channels=[320, 640, 1280],
                     attention_head_dim=[5, 10, 20], transformer_layers_per_block=[1, 2, 10],
                     use_linear_projection=True, down_block_types=["DownBlock2D"] + ["CrossAttnDownBlock2D"] * 2,
                     up_block_types=["CrossAttnUpBlock2D"] * 2 + ["UpBlock2D"], addition_embed_type="text_time",
                     addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816)
    for name, config in (
            ("sd15_unet.json", sd15_unet), ("sdxl_unet.json", sdxl_unet),
            ("vae.json", {"_class_name": "AutoencoderKL", "block_out_channels": [128, 256, 512, 512],
                          "down_block_types": ["DownEncoderBlock2D"] * 4, "latent_channels": 4,
                          "layers_per_block": 2, "scaling_factor": 0.18215}),
            ("dit.json", {"_class_name": "Transformer2DModel", "num_attention_heads": 16, "attention_head_dim": 72,
                          "num_layers": 28, "sample_size": 64, "patch_size": 2, "norm_type": "ada_norm_zero",
                          "num_embeds_ada_norm": 1000, "activation_fn": "gelu-approximate"}),
            ("sd35.json", {"_class_name": "SD3Transformer2DModel", "attention_head_dim": 64,
                           "caption_projection_dim": 1536, "in_channels": 16, "joint_attention_dim": 4096,
                           "num_attention_heads": 24, "num_layers": 24, "patch_size": 2, "pooled_projection_dim": 2048,
                           "pos_embed_max_size": 384, "sample_size": 128, "qk_norm": "rms_norm",
                           "dual_attention_layers": [0, 1, 2]}),
            ("flow.json", {"_class_name": "FlowMatchEulerDiscreteScheduler", "num_train_timesteps": 1000,
                           "shift": 3.0}),
            ("scheduler.json", {"_class_name": "DDIMScheduler", "beta_start": 0.00085, "beta_end": 0.012,
                                "beta_schedule": "scaled_linear", "num_train_timesteps": 1000, "trained_betas": None}),
            ("text_encoder.json", json.loads(transformers.CLIPTextConfig().to_json_string()))):
        put(out, "diffusers_config", name, json.dumps(config))
    for name, processor in (("clip_pp.json", transformers.CLIPImageProcessor()),
                            ("siglip_pp.json", transformers.SiglipImageProcessor())):
        put(out, "preprocessor_config", name, processor.to_json_string())

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    # PNGs of every mode, and the paths stb takes apart from those: 16 bits per sample, 1-bit
    # grey, and transparency given by a tRNS chunk (a palette's, and one colour of a grey image).
    pngs = {mode: (Image.fromarray(pixels).convert(mode), {}) for mode in ("RGB", "L", "RGBA", "P", "LA")}
    pngs.update({"I16": (Image.fromarray((pixels[..., 0].astype(np.uint16) * 257)), {}),
                 "1bit": (Image.fromarray(pixels).convert("1"), {}),
                 "Ptrns": (Image.fromarray(pixels).convert("P"), {"transparency": 3}),
                 "Ltrns": (Image.fromarray(pixels).convert("L"), {"transparency": 7})})
    for name, (image, options) in pngs.items():
        buffer = io.BytesIO()
        image.save(buffer, "PNG", **options)
        put(out, "image", f"{name}.png", buffer.getvalue())
    for mode, options in (("RGB", {}), ("L", {}), ("CMYK", {}), ("RGB", {"progressive": True}),
                          ("RGB", {"subsampling": 0})):
        buffer = io.BytesIO()
        Image.fromarray(pixels).convert(mode).save(buffer, "JPEG", quality=80, **options)
        put(out, "image", f"{mode}{len(options)}{options.get('subsampling', '')}.jpg", buffer.getvalue())

    put(out, "seedbench_json", "seed.json", json.dumps({"questions": [
        {"answer": "B", "choice_a": "one", "choice_b": "two", "choice_c": "three", "choice_d": "four",
         "data_id": "1.jpg", "data_type": "image", "question": "How many?", "question_id": "101",
         "question_type_id": 5}], "question_type": {"Instance Counting": 5}}))
    put(out, "scienceqa_json", "problems.json", json.dumps({
        "7": {"question": "Which is a mammal?", "choices": ["frog", "cat"], "answer": 1, "hint": "Look.",
              "image": "image.png", "subject": "natural science", "split": "test"},
        "8": {"question": "No image?", "choices": ["a", "b"], "answer": 0, "hint": "", "image": None, "split": "test"}}))
    put(out, "lmms_eval_results", "results.json", json.dumps({"results": {
        "mme": {"mme_cognition_score,none": 300.5, "alias": "mme"}, "mmbench_en_dev": {"gpt_eval_score,none": 64.3}},
        "config": {"model": "llava"}}))
    copy(out, "law_csv", os.path.join(REPO, "jobs", "data", "law_paper_vicuna7b_15.csv"))
    for name in sorted(os.listdir(os.path.join(REPO, "jobs"))):
        if name.endswith(".ini"):
            copy(out, "job_ini", os.path.join(REPO, "jobs", name))

    # Journal lines as store/journal.cpp writes them: the payload's CRC-32 in hex, a space, the JSON.
    def line(record):
        payload = json.dumps(record, separators=(",", ":"))
        return f"{zlib.crc32(payload.encode()):08x} {payload}\n"
    record = {"hash": "c00cd6a9d186068c", "index": 1, "message": "", "name": "dino",
              "per_sample": {"A": ["c01cafef66666666"], "C_correct": ["0000000000000000"]},
              "scalars": {"A": -7.2, "C": 0.0}, "status": "done", "seconds": 1.5, "attempt": 1}
    put(out, "journal", "one.jsonl", line(record) + line(dict(record, index=2, name="clip", status="failed")))


if __name__ == "__main__":
    main()
