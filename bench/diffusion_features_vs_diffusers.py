#!/usr/bin/env python3
"""acsweep's native diffusion features against diffusers' own models (the pinned diffusers of the
.venv, on the torch 2.13 that acsweep links), side by side with the same threads and inputs. Builds
an SD1.5-shaped pipeline at a reduced width (random weights; nothing downloaded), saves it as a
diffusers folder, runs build/bench/bench_diffusion on it, then the same computation in diffusers:
the VAE's latent mean, add_noise at t = 1, and the U-Net forward stopped after the chosen up block
(as the paper's featurizer stops). Prints images/s for both and the ratio acsweep / diffusers (above
1: acsweep is faster).

    .venv/bin/python bench/diffusion_features_vs_diffusers.py [--threads 2] [--batch 4] [--side 256]"""

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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--side", type=int, default=256)
    ap.add_argument("--block", type=int, default=0)
    ap.add_argument("--bench", default="build/bench/bench_diffusion")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    unet = df.UNet2DConditionModel(sample_size=args.side // 8, block_out_channels=(64, 128, 256, 256),
                                   cross_attention_dim=128, attention_head_dim=4, norm_num_groups=32).eval()
    vae = df.AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                           block_out_channels=(32, 64, 128, 128), layers_per_block=2, latent_channels=4,
                           norm_num_groups=32).eval()
    with tempfile.TemporaryDirectory() as root:
        folder = os.path.join(root, "sd")
        tokenizer = golden.write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
        pipe = df.StableDiffusionPipeline(vae=vae, text_encoder=golden.text_encoder(128), tokenizer=tokenizer,
                                          unet=unet, scheduler=golden.scheduler(), safety_checker=None,
                                          feature_extractor=None, requires_safety_checker=False)
        pipe.save_pretrained(folder, safe_serialization=True)
        golden.write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        out = subprocess.run([args.bench, folder, str(args.threads), str(args.batch), str(args.side), str(args.block)],
                             check=True, capture_output=True, text=True, env=env).stdout
        ours = json.loads(out.strip().splitlines()[-1])["images_per_s"]

        with torch.no_grad():
            prompt = pipe.encode_prompt("", "cpu", 1, False)[0].repeat(args.batch, 1, 1)
            pixels = torch.rand(args.batch, 3, args.side, args.side) * 2 - 1
            noise = torch.randn(args.batch, 4, args.side // 8, args.side // 8)
            t = torch.tensor([1] * args.batch)

            def stop(module, inputs, output):
                raise Stop

            pipe.unet.up_blocks[args.block].register_forward_hook(stop)

            def once():
                latents = pipe.vae.encode(pixels).latent_dist.mean * pipe.vae.config.scaling_factor
                try:
                    pipe.unet(pipe.scheduler.add_noise(latents, noise, t), t, encoder_hidden_states=prompt)
                except Stop:
                    pass

            once()
            best = 1e30
            for _ in range(3):
                start = time.perf_counter()
                once()
                best = min(best, time.perf_counter() - start)
        theirs = args.batch / best
    print(f"diffusion features, SD1.5-shaped U-Net (64-256 channels), {args.batch} images of {args.side} px, "
          f"up block {args.block}, {args.threads} threads")
    print(f"  acsweep   {ours:8.3f} images/s")
    print(f"  diffusers {theirs:8.3f} images/s")
    print(f"  ratio acsweep / diffusers: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
