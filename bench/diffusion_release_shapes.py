#!/usr/bin/env python3
"""The native diffusion features at the released models' sizes, against diffusers (a one-off check,
not in CI: 8 GB of random weights, a few minutes). Writes, under OUT, two cases in
tests/golden/test_diffusion_golden.cpp's format, with random weights in the released shapes:
  dit: DiT-XL/2-512's transformer config (28 blocks of 16 x 72) and SD's VAE (128..512 channels);
  sd15: SD1.5's U-Net and VAE configs with a full-size CLIP-L text encoder (blocks 0..2);
  sd3: SD3 medium's transformer config cut to its first 3 blocks (24 heads x 64, joint width 4096,
       192 x 192 learned positions; block 2 is then the context-pre-only last one), its VAE (16
       latent channels, shift and scale), CLIP-L and CLIP-G text encoders at full size;
each at 512 px and 256 x 192, blocks 0..2, computed by diffusers as the paper's featurizers do
(tests/golden/diffusion_golden.py). Then compare:

    .venv/bin/python bench/diffusion_release_shapes.py /tmp/release
    ACSWEEP_GOLDEN=/tmp/release build/tests/test_diffusion_golden \
        --gtest_filter='*StableDiffusionEveryUpBlock*:*DiTEveryBlock*:*SD3EveryBlock*'
"""

import os
import sys

import diffusers as df
import torch
import transformers as tf
from safetensors.torch import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "golden"))
import diffusion_golden as g  # noqa: E402


def sd15(root):
    torch.manual_seed(0)
    unet = df.UNet2DConditionModel(
        sample_size=64, cross_attention_dim=768, block_out_channels=(320, 640, 1280, 1280), attention_head_dim=8,
        layers_per_block=2, down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3).eval()
    text = tf.CLIPTextModel(tf.CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072,
                                              num_hidden_layers=12, num_attention_heads=12,
                                              max_position_embeddings=77, hidden_act="quick_gelu")).eval()
    tokenizer = g.write_tokenizer(os.path.join(root, "sd15", "tokenizer"), "<|endoftext|>", 77)
    pipe = df.StableDiffusionPipeline(vae=sd_vae(4), text_encoder=text, tokenizer=tokenizer, unet=unet,
                                      scheduler=g.scheduler(), safety_checker=None, feature_extractor=None,
                                      requires_safety_checker=False)
    with torch.no_grad():
        prompt = pipe.encode_prompt("", "cpu", 1, False)[0]
    (_, pixels), (_, other) = inputs()
    folder, out = g.reference(pipe, "sd15", root, pixels, 1, [0, 1, 2], lambda px: prompt.repeat(px.shape[0], 1, 1),
                              other=other)
    g.write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 77)
    save_file(out, os.path.join(folder, "golden.safetensors"))
    print("wrote", folder)


INPUTS = (("", 512, 512), ("other_", 256, 192))


def inputs():
    return tuple((prefix, torch.rand(1, 3, h, w) * 2 - 1) for prefix, h, w in INPUTS)


def save(pipe, folder, out):
    pipe.save_pretrained(folder, safe_serialization=True)
    save_file({k: v.float().contiguous() for k, v in out.items()}, os.path.join(folder, "golden.safetensors"))
    print("wrote", folder, flush=True)


def sd_vae(latent_channels, **sd3):
    return df.AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            block_out_channels=(128, 256, 512, 512), layers_per_block=2,
                            latent_channels=latent_channels, norm_num_groups=32, sample_size=512, **sd3).eval()


def dit(root):
    torch.manual_seed(0)
    transformer = df.DiTTransformer2DModel(num_attention_heads=16, attention_head_dim=72, in_channels=4,
                                           out_channels=8, num_layers=28, sample_size=64, patch_size=2,
                                           num_embeds_ada_norm=1000).eval()
    schedule = df.DDIMScheduler(beta_start=0.0001, beta_end=0.02, beta_schedule="linear", num_train_timesteps=1000)
    pipe = df.DiTPipeline(transformer=transformer, vae=sd_vae(4), scheduler=schedule)
    save(pipe, os.path.join(root, "dit"), g.dit_features(pipe, inputs(), 3))


def sd3(root):
    torch.manual_seed(0)
    folder = os.path.join(root, "sd3")
    transformer = df.SD3Transformer2DModel(
        sample_size=128, patch_size=2, in_channels=16, num_layers=3, attention_head_dim=64, num_attention_heads=24,
        joint_attention_dim=4096, caption_projection_dim=1536, pooled_projection_dim=2048, out_channels=16,
        pos_embed_max_size=192).eval()
    clip_l = tf.CLIPTextModelWithProjection(tf.CLIPTextConfig(
        vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
        max_position_embeddings=77, projection_dim=768, hidden_act="quick_gelu")).eval()
    clip_g = tf.CLIPTextModelWithProjection(tf.CLIPTextConfig(
        vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=20,
        max_position_embeddings=77, projection_dim=1280, hidden_act="gelu", eos_token_id=len(g.VOCAB) - 1)).eval()
    pipe = df.StableDiffusion3Pipeline(
        transformer=transformer, scheduler=df.FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=sd_vae(16, shift_factor=0.0609, scaling_factor=1.5305, use_quant_conv=False, use_post_quant_conv=False),
        text_encoder=clip_l, tokenizer=g.write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 77),
        text_encoder_2=clip_g, tokenizer_2=g.write_tokenizer(os.path.join(folder, "tokenizer_2"), "!", 77),
        text_encoder_3=None, tokenizer_3=None)
    out = g.sd3_features(pipe, inputs(), 3)
    save(pipe, folder, out)
    g.write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 77)
    g.write_tokenizer(os.path.join(folder, "tokenizer_2"), "!", 77)


if __name__ == "__main__":
    sd15(sys.argv[1])
    dit(sys.argv[1])
    sd3(sys.argv[1])
