#!/usr/bin/env python3
"""acsweep's native diffusion features against diffusers' own models (the pinned diffusers of the
.venv, on the torch 2.13 that acsweep links), side by side with the same threads and inputs. Builds
an SD1.5-shaped pipeline, or an SD3-shaped one (--model sd3), at a reduced width (random weights;
nothing downloaded), saves it as a diffusers folder, runs build/bench/bench_diffusion on it, then the
same computation in diffusers: the VAE's latent mean, the noise at t = 1 (add_noise; SD3:
scale_noise at the scheduler's last training timestep), and the denoiser's forward stopped after the
chosen block (as the paper's featurizer stops). Prints images/s for both and the ratio acsweep /
diffusers (above 1: acsweep is faster); and acsweep's first pass's growth of the resident set beside
what its memory plan counts for the batch (--vae-width 128: the released VAEs' full-resolution width,
which decides that peak).

    .venv/bin/python bench/diffusion_features_vs_diffusers.py [--model sd|sd3] [--threads 2] [--batch 4]
        [--side 256] [--block 0] [--vae-width 32]"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))
import diffusion_golden as golden  # noqa: E402
import diffusers as df  # noqa: E402


class Stop(Exception):
    pass


def vae_model(width, latent_channels, **sd3):
    return df.AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            block_out_channels=(width, 2 * width, 4 * width, 4 * width), layers_per_block=2,
                            latent_channels=latent_channels, norm_num_groups=32, **sd3).eval()


def sd_pipeline(folder, side, vae_width):
    unet = df.UNet2DConditionModel(sample_size=side // 8, block_out_channels=(64, 128, 256, 256),
                                   cross_attention_dim=128, attention_head_dim=4, norm_num_groups=32).eval()
    vae = vae_model(vae_width, 4)
    tokenizer = golden.write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
    pipe = df.StableDiffusionPipeline(vae=vae, text_encoder=golden.text_encoder(128), tokenizer=tokenizer,
                                      unet=unet, scheduler=golden.scheduler(), safety_checker=None,
                                      feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    golden.write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
    return pipe


def sd3_pipeline(folder, side, vae_width):
    """SD3 medium's layout at a reduced width: 6 blocks of 6 heads x 64, a 16-channel VAE latent."""
    transformer = df.SD3Transformer2DModel(
        sample_size=side // 8, patch_size=2, in_channels=16, num_layers=6, attention_head_dim=64, num_attention_heads=6,
        joint_attention_dim=512, caption_projection_dim=384, pooled_projection_dim=128, out_channels=16,
        pos_embed_max_size=side // 16).eval()
    vae = vae_model(vae_width, 16, shift_factor=0.0609, scaling_factor=1.5305, use_quant_conv=False,
                    use_post_quant_conv=False)
    tok1 = golden.write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
    tok2 = golden.write_tokenizer(os.path.join(folder, "tokenizer_2"), "!", 16)
    pipe = df.StableDiffusion3Pipeline(
        transformer=transformer, scheduler=df.FlowMatchEulerDiscreteScheduler(shift=3.0), vae=vae,
        text_encoder=golden.text_encoder(128, projection=64), tokenizer=tok1,
        text_encoder_2=golden.text_encoder(128, projection=64), tokenizer_2=tok2, text_encoder_3=None,
        tokenizer_3=None)
    golden.save_sd3(pipe, folder)
    return pipe


def diffusers_pass(pipe, model, batch, side, block):
    """diffusers' computation of the features, stopped after `block`, as one call."""
    with torch.no_grad():
        pixels = torch.rand(batch, 3, side, side) * 2 - 1

        def stop(module, inputs, output):
            raise Stop

        if model == "sd3":
            prompt, _, pooled, _ = pipe.encode_prompt("", None, None, device="cpu", num_images_per_prompt=1,
                                                      do_classifier_free_guidance=False)
            prompt, pooled = prompt.repeat(batch, 1, 1), pooled.repeat(batch, 1)
            noise = torch.randn(batch, 16, side // 8, side // 8)
            t = pipe.scheduler.timesteps[-1:].repeat(batch)
            pipe.transformer.transformer_blocks[block].register_forward_hook(stop)

            def denoise(latents):
                pipe.transformer(pipe.scheduler.scale_noise(latents, t, noise), encoder_hidden_states=prompt,
                                 pooled_projections=pooled, timestep=t)
            shift = pipe.vae.config.shift_factor
        else:
            prompt = pipe.encode_prompt("", "cpu", 1, False)[0].repeat(batch, 1, 1)
            noise = torch.randn(batch, 4, side // 8, side // 8)
            t = torch.tensor([1] * batch)
            pipe.unet.up_blocks[block].register_forward_hook(stop)

            def denoise(latents):
                pipe.unet(pipe.scheduler.add_noise(latents, noise, t), t, encoder_hidden_states=prompt)
            shift = 0.0

    def once():
        with torch.no_grad():
            latents = (pipe.vae.encode(pixels).latent_dist.mean - shift) * pipe.vae.config.scaling_factor
            try:
                denoise(latents)
            except Stop:
                pass
    return once


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", choices=("sd", "sd3"), default="sd")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--side", type=int, default=256)
    ap.add_argument("--block", type=int, default=0)
    ap.add_argument("--vae-width", type=int, default=32)
    ap.add_argument("--bench", default="build/bench/bench_diffusion")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as root:
        folder = os.path.join(root, args.model)
        pipe = (sd3_pipeline if args.model == "sd3" else sd_pipeline)(folder, args.side, args.vae_width)
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        out = subprocess.run([args.bench, folder, str(args.threads), str(args.batch), str(args.side), str(args.block)],
                             check=True, capture_output=True, text=True, env=env).stdout
        result = json.loads(out.strip().splitlines()[-1])
        ours = result["images_per_s"]

        once = diffusers_pass(pipe, args.model, args.batch, args.side, args.block)
        once()
        best = 1e30
        for _ in range(3):
            start = time.perf_counter()
            once()
            best = min(best, time.perf_counter() - start)
        theirs = args.batch / best
    shape = ("SD3-shaped MMDiT (6 blocks of 384 channels)" if args.model == "sd3"
             else "SD1.5-shaped U-Net (64-256 channels)")
    print(f"diffusion features, {shape}, {args.batch} images of {args.side} px, "
          f"block {args.block}, {args.threads} threads")
    print(f"  acsweep   {ours:8.3f} images/s")
    print(f"  diffusers {theirs:8.3f} images/s")
    print(f"  ratio acsweep / diffusers: {ours / theirs:.2f}")
    grew, planned = result["first_pass_rss_growth_bytes"], result["planned_activation_bytes"]
    print(f"  acsweep's first pass (VAE width {args.vae_width}): resident set grew {grew / 2**20:.0f} MiB, "
          f"the memory plan counts {planned / 2**20:.0f} MiB (planned / measured {planned / max(grew, 1):.2f})")


if __name__ == "__main__":
    main()
