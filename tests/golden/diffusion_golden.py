"""Golden references for acsweep's native diffusion features, from diffusers itself (pinned in
scripts/requirements.txt). Tiny random pipelines are built from configs (nothing downloaded) and
saved with save_pretrained, with their tokenizers written as the released repositories ship them
(vocab.json, merges.txt, tokenizer_config.json, special_tokens_map.json). For each case, FOLDER/<case>/
holds the pipeline and golden.safetensors:
  pixels [B,3,H,W] in [-1, 1]; latents (the VAE's latent mean times scaling_factor); noise;
  noised (the scheduler's add_noise at timestep t); context (what the U-Net attends to: the pipeline's
  own encode_prompt of the empty prompt, or for image variations _encode_image of the pixels resized
  as the paper's featurizer does); pooled and time_ids (SDXL); up_<k> (the output of U-Net up block k,
  caught by a forward hook during diffusers' own U-Net forward); t; and for sd15 the parameter count
a feature map from up block 1 loads (parameters_up_1, from the models' own named_parameters).
Cases: sd15 (conv projections, a plain first up block; a second input size whose latent is not a
multiple of the U-Net's down-sampling, other_*), sdxl (linear projections, several transformer
layers per block, two text encoders, text_time), image_variation (CLIP image embedding), dit (every
transformer block's tokens, conditioned on the timestep alone and stacked 2 x 2 by the paper's own
unfold steps; up_<k> is block k there; a second, non-square size whose grid differs from the trained
one, other_*); dit_null (the same conditioned on the null class too, as diffusers' DiT is); sd3 and sd35 (SD3's MMDiT with CLIP-L and CLIP-G and no T5, flow-matching noise at the
first training timestep, every block's image tokens stacked 2 x 2 as for DiT; a second, non-square size
cropping other learned positions, other_*; sd35 adds SD3.5's query-key RMS norms and image-only
attention in two blocks)."""

import json
import os
import shutil

import diffusers as df
import torch
import transformers as tf
from safetensors.torch import save_file

VOCAB = ["!", "a", "b", "c", "d", "e", "a</w>", "b</w>", "ab</w>", "<|startoftext|>", "<|endoftext|>"]


def write_tokenizer(folder, pad, length):
    """A CLIPTokenizer's files as SD repositories ship them; pad "!" (SD2.1, SDXL's second) or the
    end-of-text token (SD1.5, SDXL's first)."""
    if os.path.isdir(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    with open(os.path.join(folder, "vocab.json"), "w") as f:
        json.dump({t: i for i, t in enumerate(VOCAB)}, f)
    with open(os.path.join(folder, "merges.txt"), "w") as f:
        f.write("#version: 0.2\na b</w>\n")
    specials = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
                "pad_token": pad}
    with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
        json.dump(specials, f)
    # tokenizer_config.json writes the specials as AddedToken objects, as transformers 4 saved them
    config = {k: {"content": v, "lstrip": False, "normalized": True, "rstrip": False, "single_word": False,
                  "__type": "AddedToken"} for k, v in specials.items()}
    config.update(model_max_length=length, tokenizer_class="CLIPTokenizer", do_lower_case=True)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump(config, f)
    return tf.CLIPTokenizer(os.path.join(folder, "vocab.json"), os.path.join(folder, "merges.txt"),
                            pad_token=pad, model_max_length=length)


def perturb(model):
    """Norm scales start at 1 and biases at 0: move every 1-D parameter so that each one matters."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(0.3 * torch.randn_like(p))
    return model.eval()


def text_encoder(hidden, projection=None, eos=2):
    config = tf.CLIPTextConfig(vocab_size=len(VOCAB), hidden_size=hidden, intermediate_size=2 * hidden,
                               num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=16,
                               hidden_act="quick_gelu" if projection is None else "gelu", eos_token_id=eos,
                               projection_dim=projection or 512)
    model = tf.CLIPTextModelWithProjection(config) if projection else tf.CLIPTextModel(config)
    return perturb(model)


def vae(scaling, shift=None):
    """SD3's VAE (a shift, no quant_conv) when `shift` is given."""
    return perturb(df.AutoencoderKL(in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
                                    up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(8, 16),
                                    layers_per_block=1, latent_channels=4, norm_num_groups=4, sample_size=32,
                                    scaling_factor=scaling, shift_factor=shift, use_quant_conv=shift is None,
                                    use_post_quant_conv=shift is None))


def sd_unet(cross_attention_dim):
    """SD1.5's block layout at a tiny width: cross-attention down blocks, then a plain one."""
    return perturb(df.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 32, 32), layers_per_block=2,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=cross_attention_dim, attention_head_dim=2, norm_num_groups=4))


def scheduler():
    return df.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                            num_train_timesteps=1000, clip_sample=False, set_alpha_to_one=False)


def reference(pipe, name, root, pixels, t, blocks, context, pooled=None, time_ids=None, other=None):
    """diffusers' own computation with the same noise, every up block in `blocks` caught by a hook."""
    out = {}

    def run(prefix, px):
        torch.manual_seed(len(prefix) + 7)
        latents = pipe.vae.encode(px).latent_dist.mean * pipe.vae.config.scaling_factor
        noise = torch.randn_like(latents)
        timesteps = torch.tensor([t] * px.shape[0])
        noised = pipe.scheduler.add_noise(latents, noise, timesteps)
        caught = {}
        hooks = [pipe.unet.up_blocks[k].register_forward_hook(
            lambda m, i, o, k=k: caught.__setitem__(k, o)) for k in blocks]
        ctx = context(px)
        kwargs = {}
        if pooled is not None:
            ids = time_ids(px).repeat(px.shape[0], 1)
            kwargs["added_cond_kwargs"] = {"text_embeds": pooled.repeat(px.shape[0], 1), "time_ids": ids}
            out[prefix + "time_ids"] = ids
        pipe.unet(noised, timesteps, encoder_hidden_states=ctx, **kwargs)
        for h in hooks:
            h.remove()
        out.update({prefix + "pixels": px, prefix + "latents": latents, prefix + "noise": noise,
                    prefix + "noised": noised, prefix + "context": ctx})
        for k in blocks:
            out[f"{prefix}up_{k}"] = caught[k]

    with torch.no_grad():
        run("", pixels)
        if other is not None:
            run("other_", other)
    if pooled is not None:
        out["pooled"] = pooled
    out["t"] = torch.tensor([float(t)])
    folder = os.path.join(root, name)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder, {k: v.float().contiguous() for k, v in out.items()}


def sd15(root):
    unet = sd_unet(cross_attention_dim=16)
    folder = os.path.join(root, "sd15")
    tokenizer = write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
    pipe = df.StableDiffusionPipeline(vae=vae(0.18215), text_encoder=text_encoder(16), tokenizer=tokenizer,
                                      unet=unet, scheduler=scheduler(), safety_checker=None,
                                      feature_extractor=None, requires_safety_checker=False)
    with torch.no_grad():
        prompt = pipe.encode_prompt("", "cpu", 1, False)[0]
    pixels = torch.rand(2, 3, 32, 32) * 2 - 1
    other = torch.rand(1, 3, 36, 44) * 2 - 1  # latents 18 x 22: the up-samplers are told the sizes
    folder, out = reference(pipe, "sd15", root, pixels, 1, [0, 1, 2],
                            lambda px: prompt.repeat(px.shape[0], 1, 1), other=other)
    write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
    out["parameters_up_1"] = torch.tensor([float(loaded_parameters(pipe, 1))])
    save_file(out, os.path.join(folder, "golden.safetensors"))
    print("wrote", folder)


def loaded_parameters(pipe, block):
    """The parameters a feature map from up block `block` needs: the VAE's encoder half, the U-Net
    without its later up blocks and output head, and the text encoder."""
    vae_part = sum(p.numel() for k, p in pipe.vae.named_parameters() if k.startswith(("encoder.", "quant_conv.")))
    unet_part = sum(p.numel() for k, p in pipe.unet.named_parameters()
                    if not k.startswith(("conv_norm_out.", "conv_out."))
                    and not (k.startswith("up_blocks.") and int(k.split(".")[1]) > block))
    return vae_part + unet_part + sum(p.numel() for p in pipe.text_encoder.parameters())


def sdxl(root):
    unet = perturb(df.UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, block_out_channels=(16, 32, 32), layers_per_block=2,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=40,
        attention_head_dim=(2, 4, 4), transformer_layers_per_block=(1, 1, 2), use_linear_projection=True,
        addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=12 + 6 * 8, norm_num_groups=4))
    folder = os.path.join(root, "sdxl")
    tok1 = write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
    tok2 = write_tokenizer(os.path.join(folder, "tokenizer_2"), "!", 16)
    # The second encoder pools at its configured end-of-text id (the first occurrence), not argmax.
    pipe = df.StableDiffusionXLPipeline(vae=vae(0.13025), text_encoder=text_encoder(16),
                                        text_encoder_2=text_encoder(24, projection=12, eos=len(VOCAB) - 1),
                                        tokenizer=tok1, tokenizer_2=tok2, unet=unet, scheduler=scheduler(),
                                        add_watermarker=False)
    with torch.no_grad():
        prompt, _, pooled, _ = pipe.encode_prompt(prompt="", device="cpu", num_images_per_prompt=1,
                                                  do_classifier_free_guidance=False)
    pixels = torch.rand(2, 3, 32, 32) * 2 - 1

    def time_ids(px):
        size = (px.shape[2], px.shape[3])
        return pipe._get_add_time_ids(size, (0, 0), size, torch.float32, text_encoder_projection_dim=12)

    folder, out = reference(pipe, "sdxl", root, pixels, 1, [0, 1, 2],
                            lambda px: prompt.repeat(px.shape[0], 1, 1), pooled=pooled, time_ids=time_ids)
    write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
    write_tokenizer(os.path.join(folder, "tokenizer_2"), "!", 16)
    save_file(out, os.path.join(folder, "golden.safetensors"))
    print("wrote", folder)


def image_variation(root):
    unet = sd_unet(cross_attention_dim=20)
    image_encoder = perturb(tf.CLIPVisionModelWithProjection(tf.CLIPVisionConfig(
        hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=2, image_size=16,
        patch_size=4, projection_dim=20)))
    pipe = df.StableDiffusionImageVariationPipeline(
        vae=vae(0.18215), image_encoder=image_encoder, unet=unet, scheduler=scheduler(), safety_checker=None,
        feature_extractor=tf.CLIPImageProcessor(), requires_safety_checker=False)

    def context(px):  # as the paper's IMSDFeaturizer: the [-1, 1] pixels, bilinear to the tower's size
        small = torch.nn.functional.interpolate(px, size=(16, 16), mode="bilinear")
        return pipe._encode_image(small, "cpu", 1, False)

    pixels = torch.rand(2, 3, 32, 32) * 2 - 1
    folder, out = reference(pipe, "image_variation", root, pixels, 1, [0, 2], context)
    save_file(out, os.path.join(folder, "golden.safetensors"))
    print("wrote", folder)


class StopAfterBlock(Exception):
    pass


def dit(root, name="dit", null_class=False):
    """With null_class, diffusers' DiT as it is, given the null class (label 10 of 10: the label
    dropout's row); else as the paper's featurizer patches it."""
    transformer = perturb(df.DiTTransformer2DModel(
        num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=8, num_layers=3, sample_size=16,
        patch_size=2, num_embeds_ada_norm=10))
    schedule = df.DDIMScheduler(beta_start=0.0001, beta_end=0.02, beta_schedule="linear", num_train_timesteps=1000)
    pipe = df.DiTPipeline(transformer=transformer, vae=vae(0.18215), scheduler=schedule)
    out = dit_features(pipe, (("", torch.rand(2, 3, 32, 32) * 2 - 1), ("other_", torch.rand(1, 3, 48, 40) * 2 - 1)),
                       3, null_class)
    # What block 1's feature map loads: the VAE's encoder half and the transformer up to block 1,
    # without the output head and the class embedding the paper's featurizer leaves out.
    out["parameters_up_1"] = torch.tensor([float(
        sum(p.numel() for k, p in pipe.vae.named_parameters() if k.startswith(("encoder.", "quant_conv.")))
        + sum(p.numel() for k, p in transformer.named_parameters()
              if not k.startswith(("proj_out", "norm_out")) and (null_class or ".class_embedder." not in k)
              and not (k.startswith("transformer_blocks.") and int(k.split(".")[1]) > 1)))])
    folder = os.path.join(root, name)
    pipe.save_pretrained(folder, safe_serialization=True)
    save_file({k: v.float().contiguous() for k, v in out.items()}, os.path.join(folder, "golden.safetensors"))
    print("wrote", folder)


def cell(pipe):
    """Pixels per token of a DiT or SD3 pipeline: the VAE's down-sampling times the patch."""
    return 2 ** (len(pipe.vae.config.block_out_channels) - 1) * pipe.transformer.config.patch_size


def dit_features(pipe, inputs, blocks, null_class=False):
    """diffusers' DiT features of each (prefix, pixels) in `inputs`, blocks 0..blocks-1, the paper's
    way: add_noise at t = 1, every block conditioned on the timestep alone (its class label dropped;
    with null_class, diffusers' DiT as it is, given the null class: the label table's last row)."""
    transformer = pipe.transformer
    if not null_class:
        for block in transformer.transformer_blocks:
            emb = block.norm1.emb
            emb.forward = lambda timestep, class_labels, hidden_dtype=None, emb=emb: emb.timestep_embedder(
                emb.time_proj(timestep).to(hidden_dtype))
    out = {"t": torch.tensor([1.0])}
    with torch.no_grad():
        for prefix, px in inputs:
            latents = pipe.vae.encode(px).latent_dist.mean * pipe.vae.config.scaling_factor
            noise = torch.randn_like(latents)
            t = torch.tensor([1] * px.shape[0])
            noised = pipe.scheduler.add_noise(latents, noise, t)
            caught = {}

            def catch(module, inputs, output, k):
                caught[k] = output
                if k == blocks - 1:  # stop before the output head, which takes square grids only (as the paper)
                    raise StopAfterBlock

            hooks = [transformer.transformer_blocks[k].register_forward_hook(
                lambda m, i, o, k=k: catch(m, i, o, k)) for k in range(blocks)]
            labels = torch.full((px.shape[0],), transformer.config.num_embeds_ada_norm if null_class else 0)
            try:
                transformer(noised, timestep=t, class_labels=labels)
            except StopAfterBlock:
                pass
            for h in hooks:
                h.remove()
            out.update({prefix + "pixels": px, prefix + "latents": latents, prefix + "noise": noise,
                        prefix + "noised": noised})
            for k, tokens in caught.items():
                out[f"{prefix}up_{k}"] = stacked(tokens, px.shape[2] // cell(pipe), px.shape[3] // cell(pipe))
    return out


def sd3_features(pipe, inputs, blocks):
    """diffusers' SD3 features of each (prefix, pixels) in `inputs`, blocks 0..blocks-1: the shifted
    and scaled latent mean, scale_noise at t = 1 of the training grid 1..1000 (the scheduler's last,
    smallest, shifted timestep), the transformer given that timestep and the pipeline's own empty
    prompt without T5; each block's image tokens stacked 2 x 2."""
    transformer = pipe.transformer
    with torch.no_grad():
        prompt, _, pooled, _ = pipe.encode_prompt(prompt="", prompt_2=None, prompt_3=None, device="cpu",
                                                  num_images_per_prompt=1, do_classifier_free_guidance=False)
    t_model = pipe.scheduler.timesteps[-1]
    out = {"pooled": pooled, "t": torch.tensor([1.0]), "model_timestep": t_model.reshape(1)}
    with torch.no_grad():
        for prefix, px in inputs:
            config = pipe.vae.config
            latents = (pipe.vae.encode(px).latent_dist.mean - config.shift_factor) * config.scaling_factor
            noise = torch.randn_like(latents)
            timesteps = t_model.repeat(px.shape[0])
            noised = pipe.scheduler.scale_noise(latents, timesteps, noise)
            caught = {}
            hooks = [transformer.transformer_blocks[k].register_forward_hook(
                lambda m, i, o, k=k: caught.__setitem__(k, o[1])) for k in range(blocks)]
            transformer(noised, encoder_hidden_states=prompt.repeat(px.shape[0], 1, 1),
                        pooled_projections=pooled.repeat(px.shape[0], 1), timestep=timesteps)
            for h in hooks:
                h.remove()
            out.update({prefix + "pixels": px, prefix + "latents": latents, prefix + "noise": noise,
                        prefix + "noised": noised, prefix + "context": prompt.repeat(px.shape[0], 1, 1)})
            for k, tokens in caught.items():
                out[f"{prefix}up_{k}"] = stacked(tokens, px.shape[2] // cell(pipe), px.shape[3] // cell(pipe))
    return out


def stacked(tokens, gh, gw):
    """The paper's DiT and SD3 featurizers' steps: tokens to a grid, each 2 x 2 cells stacked."""
    grid = tokens.transpose(2, 1).reshape(tokens.shape[0], -1, gh, gw)
    ft = grid.unfold(3, 2, 2).unfold(2, 2, 2)
    b, c, h, w = grid.shape
    return ft.reshape(b, -1, h // 2, w // 2, 4).permute(0, 4, 1, 2, 3).reshape(b, -1, h // 2, w // 2)


def sd3_pipeline(folder, **variant):
    """A tiny SD3-like pipeline without T5 (as the paper's featurizer loads it), its tokenizers
    written under FOLDER."""
    transformer = perturb(df.SD3Transformer2DModel(
        sample_size=8, patch_size=2, in_channels=4, num_layers=3, attention_head_dim=8, num_attention_heads=2,
        joint_attention_dim=48, caption_projection_dim=16, pooled_projection_dim=24, out_channels=4,
        pos_embed_max_size=12, **variant))
    with torch.no_grad():  # the learned positions are read from the file, not recomputed
        transformer.pos_embed.pos_embed.add_(0.1 * torch.randn_like(transformer.pos_embed.pos_embed))
    tok1 = write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
    tok2 = write_tokenizer(os.path.join(folder, "tokenizer_2"), "!", 16)
    return df.StableDiffusion3Pipeline(
        transformer=transformer, scheduler=df.FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0),
        vae=vae(1.5305, shift=0.0609), text_encoder=text_encoder(16, projection=12), tokenizer=tok1,
        text_encoder_2=text_encoder(24, projection=12, eos=len(VOCAB) - 1), tokenizer_2=tok2,
        text_encoder_3=None, tokenizer_3=None)


def save_sd3(pipe, folder):
    pipe.save_pretrained(folder, safe_serialization=True)
    write_tokenizer(os.path.join(folder, "tokenizer"), "<|endoftext|>", 16)
    write_tokenizer(os.path.join(folder, "tokenizer_2"), "!", 16)


def sd3_case(root, name, **variant):
    folder = os.path.join(root, name)
    pipe = sd3_pipeline(folder, **variant)
    transformer = pipe.transformer
    out = sd3_features(pipe, (("", torch.rand(2, 3, 32, 32) * 2 - 1), ("other_", torch.rand(1, 3, 48, 40) * 2 - 1)), 3)
    # What block 1's feature map loads: the VAE's encoder half, the transformer up to block 1 with its
    # stored positions and without the output head, and both CLIP encoders (no T5).
    out["parameters_up_1"] = torch.tensor([float(
        sum(p.numel() for k, p in pipe.vae.named_parameters() if k.startswith("encoder."))
        + sum(p.numel() for k, p in transformer.state_dict().items()
              if not k.startswith(("proj_out", "norm_out"))
              and not (k.startswith("transformer_blocks.") and int(k.split(".")[1]) > 1))
        + sum(p.numel() for p in pipe.text_encoder.parameters())
        + sum(p.numel() for p in pipe.text_encoder_2.parameters()))])
    save_sd3(pipe, folder)
    save_file({k: v.float().contiguous() for k, v in out.items()}, os.path.join(folder, "golden.safetensors"))
    print("wrote", folder)


def dit_null(root):
    dit(root, "dit_null", null_class=True)


def sd3(root):
    sd3_case(root, "sd3")


def sd35(root):
    sd3_case(root, "sd35", qk_norm="rms_norm", dual_attention_layers=(0, 1))


def diffusion(root):
    print("diffusers", df.__version__)
    torch.manual_seed(1)
    for case in (sd15, sdxl, image_variation, dit, dit_null, sd3, sd35):
        case(root)
