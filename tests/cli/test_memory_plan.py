"""The memory plan of `acsweep run JOB --dry-run` (sweep/memory_plan.hpp):
- folders holding only config.json and preprocessor_config.json plan the same as the full folders;
- the shipped paper sweep (jobs/paper_sweep.ini: Vicuna-7B, groups of 8, 2048 tokens), planned from
  the real models' configs written by transformers, fits an 80 GB card, and the same job unsharded
  and without activation checkpointing is refused, naming the phase and what would fit;
- the paper's Qwen2.5-14B sweep (jobs/paper_sweep_qwen14b.ini, groups of 8) fits an 80 GB card in
  both phases, planned from Qwen2.5-14B-Instruct's config as transformers writes it;
- a run whose plan exceeds [layout] device_memory_gib is refused before any work."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_scoring import FINETUNE, WORLD, write_job

REPO = Path(__file__).resolve().parents[2]
GIB = 1024**3


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("memory")
    subprocess.run([sys.executable, WORLD, str(folder / "world"), "2"], check=True)
    return folder


def peak(phase):
    """The plan's peak from its parts: what is held, plus the encoders' forward, the pass with the
    larger of its moments, or the larger moment after the pass."""
    held = dict.fromkeys(("step", "encode", "pass", "loss", "backward", "reduction", "update"), 0)
    assert set(phase["when"]) == set(phase["parts"]) and set(phase["when"].values()) <= set(held)
    for name, when in phase["when"].items():
        held[when] += phase["parts"][name]
    return held["step"] + max(held["encode"], held["pass"] + max(held["loss"], held["backward"]), held["reduction"],
                              held["update"])


def memory(acsweep, job, *sets, check=True):
    args = ["run", job, "--dry-run", "--json"]
    for s in sets:
        args += ["--set", s]
    done = acsweep(*args, check=check)
    return done, (json.loads(done.stdout) if done.stdout.strip() else None)


def test_config_only_folders_plan_as_the_full_ones(acsweep, world):
    full = write_job(world, FINETUNE, "full.ini")
    _, planned = memory(acsweep, full)
    assert set(planned["memory"]) == {"scoring", "finetune"} and planned["unknown"] == []
    for phase in planned["memory"].values():
        assert phase["per_rank_bytes"] == peak(phase) > 0
        assert phase["parts"]["weights"] > 0 and phase["parts"]["activations"] > 0
    # The same models with nothing but their configs.
    configs = world / "configs"
    for model in ("llm", "encoders/clip", "encoders/dino"):
        (configs / model).mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "preprocessor_config.json"):
            if (world / "world" / model / name).exists():
                shutil.copy(world / "world" / model / name, configs / model / name)
    text = (FINETUNE.replace("world/llm", "configs/llm").replace("world/encoders", "configs/encoders"))
    only = write_job(world, text, "configs.ini")
    _, from_configs = memory(acsweep, only, check=False)
    assert from_configs["memory"] == planned["memory"]


def test_a_run_that_cannot_fit_is_refused_before_any_work(acsweep, world):
    job = write_job(world, FINETUNE, "small_device.ini")
    done = acsweep("run", job, "--set", "layout.device_memory_gib=0.01", "--set", "job.output=refused", check=False)
    assert done.returncode == 2, done.stderr
    assert "scoring (scorer ranks, setting" in done.stderr and "0.0 GiB of the device" in done.stderr
    assert "[layout] device_memory_gib" in done.stderr
    assert not (world / "refused").exists()


def paper_models(root):
    """The paper's models as config files only, written by transformers in their real formats."""
    transformers = pytest.importorskip("transformers")

    def write(folder, config, processor=None):
        path = root / "models" / folder
        path.mkdir(parents=True, exist_ok=True)
        config.to_json_file(path / "config.json")
        if processor is not None:
            processor.to_json_file(path / "preprocessor_config.json")

    write("lmsys/vicuna-7b-v1.5",
          transformers.LlamaConfig(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                                   num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096))
    # Qwen2.5-14B-Instruct's config.json, as released.
    write("Qwen/Qwen2.5-14B-Instruct",
          transformers.Qwen2Config(vocab_size=152064, hidden_size=5120, intermediate_size=13824, num_hidden_layers=48,
                                   num_attention_heads=40, num_key_value_heads=8, max_position_embeddings=32768,
                                   rope_theta=1000000.0, rms_norm_eps=1e-6, sliding_window=131072, max_window_layers=70,
                                   use_sliding_window=False, tie_word_embeddings=False, bos_token_id=151643,
                                   eos_token_id=151645))
    clip = dict(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16, patch_size=14)
    for folder, side in (("openai/clip-vit-large-patch14-336", 336), ("openai/clip-vit-large-patch14", 224),
                         ("laion/CLIP-ViT-L-14-laion2B-s32B-b82K", 224)):
        write(folder, transformers.CLIPVisionConfig(image_size=side, **clip),
              transformers.CLIPImageProcessor(size={"shortest_edge": side}, crop_size=side))
    for folder, size, side in (("google/siglip-base-patch16-224", (768, 3072, 12, 12), 224),
                               ("google/siglip-large-patch16-256", (1024, 4096, 24, 16), 256)):
        h, i, layers, heads = size
        write(folder, transformers.SiglipVisionConfig(hidden_size=h, intermediate_size=i, num_hidden_layers=layers,
                                                      num_attention_heads=heads, image_size=side, patch_size=16),
              transformers.SiglipImageProcessor(size={"height": side, "width": side}))
    write("google/siglip2-large-patch16-256",
          transformers.Siglip2VisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                                           num_attention_heads=16, num_patches=256, patch_size=16),
          transformers.SiglipImageProcessor(size={"height": 256, "width": 256}))
    write("facebook/dinov2-large",
          transformers.Dinov2Config(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, patch_size=14),
          transformers.BitImageProcessor(size={"shortest_edge": 256}, crop_size=224, do_center_crop=True))
    # The Stable Diffusion, DiT and SD3 pipelines, read natively: their released configs (weights not here).
    for folder, pipeline in SD_PIPELINES.items():
        path = root / "models" / folder
        for part in ("unet", "transformer", "vae", "scheduler", "text_encoder", "tokenizer", "text_encoder_2",
                     "tokenizer_2", "image_encoder"):
            (path / part).mkdir(parents=True, exist_ok=True)
        (path / "model_index.json").write_text(json.dumps({"_class_name": pipeline["class"]}))
        for part in ("unet", "transformer", "text_encoder"):
            if part in pipeline:
                (path / part / "config.json").write_text(json.dumps(pipeline[part]))
        (path / "vae" / "config.json").write_text(json.dumps(dict(
            {"_class_name": "AutoencoderKL", "block_out_channels": [128, 256, 512, 512], "latent_channels": 4,
             "down_block_types": ["DownEncoderBlock2D"] * 4, "layers_per_block": 2, "norm_num_groups": 32},
            **pipeline.get("vae", {}))))


SD15_UNET = {"_class_name": "UNet2DConditionModel", "sample_size": 64, "cross_attention_dim": 768,
             "block_out_channels": [320, 640, 1280, 1280], "attention_head_dim": 8, "layers_per_block": 2,
             "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
             "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3}
SD_PIPELINES = {
    "facebook/DiT-XL-2-512": {"class": "DiTPipeline", "transformer": {
        "_class_name": "Transformer2DModel", "num_attention_heads": 16, "attention_head_dim": 72, "in_channels": 4,
        "out_channels": 8, "num_layers": 28, "sample_size": 64, "patch_size": 2, "norm_type": "ada_norm_zero",
        "num_embeds_ada_norm": 1000, "activation_fn": "gelu-approximate", "norm_elementwise_affine": False,
        "attention_bias": True}},
    "runwayml/stable-diffusion-v1-5": {"class": "StableDiffusionPipeline", "unet": SD15_UNET},
    "lambdalabs/sd-image-variations-diffusers": {"class": "StableDiffusionImageVariationPipeline",
                                                 "unet": SD15_UNET},
    "stabilityai/stable-diffusion-2-1": {"class": "StableDiffusionPipeline", "unet": dict(
        SD15_UNET, sample_size=96, cross_attention_dim=1024, attention_head_dim=[5, 10, 20, 20],
        use_linear_projection=True, upcast_attention=True)},
    "stabilityai/stable-diffusion-xl-base-1.0": {"class": "StableDiffusionXLPipeline", "unet": dict(
        SD15_UNET, sample_size=128, cross_attention_dim=2048, block_out_channels=[320, 640, 1280],
        attention_head_dim=[5, 10, 20], transformer_layers_per_block=[1, 2, 10], use_linear_projection=True,
        down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], addition_embed_type="text_time",
        addition_time_embed_dim=256, projection_class_embeddings_input_dim=2816)},
    "stabilityai/stable-diffusion-3-medium-diffusers": {"class": "StableDiffusion3Pipeline", "transformer": {
        "_class_name": "SD3Transformer2DModel", "attention_head_dim": 64, "caption_projection_dim": 1536,
        "in_channels": 16, "joint_attention_dim": 4096, "num_attention_heads": 24, "num_layers": 24, "out_channels": 16,
        "patch_size": 2, "pooled_projection_dim": 2048, "pos_embed_max_size": 192, "sample_size": 128},
        "vae": {"latent_channels": 16, "use_quant_conv": False, "use_post_quant_conv": False,
                "shift_factor": 0.0609, "scaling_factor": 1.5305},
        "text_encoder": {"model_type": "clip_text_model", "vocab_size": 49408, "hidden_size": 768,
                         "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12,
                         "max_position_embeddings": 77, "projection_dim": 768}},
}


def paper_job(root, name):
    """jobs/NAME copied under ROOT/jobs, beside the paper's models as config files."""
    paper_models(root)
    (root / "jobs").mkdir()
    shutil.copy(REPO / "jobs" / name, root / "jobs" / name)
    return root / "jobs" / name


def fits_80_gb(acsweep, job, shard):
    """The job's plan on an 80 GB card: both phases fit, Stage 2 sharded at `shard` in bf16 weights."""
    done, planned = memory(acsweep, job, "layout.device_memory_gib=80")
    assert done.returncode == 0, done.stderr
    assert planned["device_bytes"] == 80 * GIB
    finetune, scoring = planned["memory"]["finetune"], planned["memory"]["scoring"]
    assert finetune["shard"] == shard and finetune["weights"] == "bf16"
    assert finetune["per_rank_bytes"] <= 80 * GIB and scoring["per_rank_bytes"] <= 80 * GIB
    return finetune, scoring


def test_the_paper_sweep_fits_an_80_gb_card(acsweep, tmp_path):
    job = paper_job(tmp_path, "paper_sweep.ini")
    finetune, scoring = fits_80_gb(acsweep, job, "gradients")
    # Model state per GPU: bf16 weights whole, the gradients, moments and master weights 1/8.
    n = 6738415616
    assert 2 * n < finetune["parts"]["weights"] < 2.01 * n and finetune["parts"]["optimizer"] < 8 * n / 8 * 1.01
    assert "bf16 weight copies" not in finetune["parts"]
    # At LLaVA's 16 per GPU (the job's), unsharded, every activation kept: refused, with what would fit.
    done, _ = memory(acsweep, job, "layout.device_memory_gib=80", "stage2.shard=none",
                     "stage2.activation_checkpointing=false", check=False)
    assert done.returncode == 2
    assert "finetune (worker ranks, setting" in done.stderr and "above the 80.0 GiB" in done.stderr
    assert "would fit: [stage2] shard = parameters (bf16 weights)" in done.stderr
    # The human plan names every phase and part.
    text = acsweep("run", job, "--dry-run", "--set", "layout.device_memory_gib=80").stdout
    assert "memory per rank" in text and "finetune worker" in text and "bf16 weight copies" in text
    assert "not planned" not in text  # every setting's shape is known from its configs, SD3's included
    # SD2.1 at 768 px: its VAE's forward on 4 images at a time (the rest of the 32 wait their turn),
    # beside the 32 feature grids.
    done, planned = memory(acsweep, job, "layout.device_memory_gib=80", "search.settings=sd21@768; sd15@768",
                           "job.budget=1")
    vae = 4 * 6 * 128 * 768 * 768 * 4
    assert vae < planned["memory"]["scoring"]["parts"]["encoder pass"] < 1.1 * vae


def test_the_qwen14b_sweep_fits_an_80_gb_card(acsweep, tmp_path):
    job = paper_job(tmp_path, "paper_sweep_qwen14b.ini")
    finetune, scoring = fits_80_gb(acsweep, job, "parameters")
    # Qwen2.5-14B's 14.77B parameters (the q, k and v biases counted), frozen in float32 while scoring.
    n = 14770033664
    assert 4 * n <= scoring["parts"]["weights"] < 4.01 * n
    # The Vicuna job's sharding (gradients only, 16 per GPU) would not fit this LLM.
    done, _ = memory(acsweep, job, "layout.device_memory_gib=80", "stage2.shard=gradients", "stage2.micro_batch=16",
                     check=False)
    assert done.returncode == 2 and "finetune (worker ranks, setting" in done.stderr


def test_shard_auto_takes_the_lowest_level_that_fits(acsweep, tmp_path):
    job = paper_job(tmp_path, "paper_sweep.ini")
    levels = ["none", "optimizer", "gradients", "parameters"]
    fits = {}
    for level in levels:
        done, planned = memory(acsweep, job, "layout.device_memory_gib=80", "stage2.shard=" + level, check=False)
        fits[level] = done.returncode == 0
        if fits[level]:
            # bf16 weights wherever the optimizer keeps float32 master shards (planned for CUDA).
            assert planned["memory"]["finetune"]["weights"] == ("fp32" if level == "none" else "bf16")
    _, auto = memory(acsweep, job, "layout.device_memory_gib=80", "stage2.shard=auto")
    chosen = auto["memory"]["finetune"]["shard"]
    assert fits[chosen] and not any(fits[level] for level in levels[:levels.index(chosen)]), (chosen, fits)
    # Each level shards more than the one before: the plan falls level by level.
    bytes_at = [memory(acsweep, job, "layout.device_memory_gib=1000", "stage2.shard=" + level)[1]["memory"]
                ["finetune"]["per_rank_bytes"] for level in levels[1:]]
    assert bytes_at == sorted(bytes_at, reverse=True)
    # No device memory known (a CPU, no [layout] device_memory_gib): auto is none, in float32.
    done, planned = memory(acsweep, job, "stage2.shard=auto", check=False)
    if "device_bytes" in (planned or {}) and planned["device_bytes"] == 0:
        assert planned["memory"]["finetune"]["shard"] == "none"
        assert planned["memory"]["finetune"]["weights"] == "fp32"
