#!/usr/bin/env python3
"""Golden references from Hugging Face transformers itself (pinned in scripts/requirements.txt).
Nothing is downloaded: every model is built from a config with random weights and saved with
save_pretrained (safetensors), as a released checkpoint is. For each case it writes FOLDER/<case>/
with the checkpoint and golden.safetensors, the inputs and transformers' outputs:
  towers (clip_openai: quick_gelu; clip_openclip: gelu, as OpenCLIP's conversions; siglip;
      siglip2; dinov2; dinov2_registers): pixels [B,3,H,W] and hidden_<i>, every hidden state,
      prefix tokens included; dinov2* and siglip2 also at another input size (other_*);
  llama_gqa_untied, llama_mha_tied: input_ids (as float) and logits;
  processors (clip_processor, siglip_processor, dinov2_processor): preprocessor_config.json, two
      JPEGs of odd sizes (image_0.jpg, image_1.jpg, 4:2:0 and 4:4:4 chroma) and pixel_values_<i> by
      the PIL backend (LLaVA's), plus what PIL decoded (decoded_<i>, 8-bit) to tell the decoder from
      the processor when they disagree;
  generation: a tiny Llama (weights drawn wide, so that every greedy step's best token leads the
      second by a clear margin) and three prompts of different lengths, left-padded, with
      transformers' greedy generate(): prompt_<i>, generated_<i> (the new tokens before the EOS),
      the EOS (chosen among the tokens the model produces, so that a row stops early) and
      max_new_tokens;
  llava: a tiny LlavaForConditionalGeneration assembled from a CLIP tower and a Llama saved as
      their own folders (clip/, llama/), projector/model.safetensors under LLaVA's model.mm_projector
      names, two PNG images, the prompts (ids, trainable mask, image position), and transformers'
      Stage-1 loss (the mean over every caption token of the batch), each prompt's caption
      log-likelihood A and the projector's gradients of the loss.
  diffusion (tests/golden/diffusion_golden.py): tiny diffusers pipelines (sd15, sdxl,
      image_variation, dit, dit_null, sd3, sd35) and their DIFT features.
tests/golden/test_golden.cpp and test_diffusion_golden.cpp compare acsweep with these (CTest runs this script first, on the CPU;
tests/device/gpu_check.sh runs it on the GPU).

    python tests/golden/make_golden.py FOLDER"""

import os
import sys

import numpy as np
import torch
import transformers as tf
from PIL import Image
from safetensors.torch import save_file

torch.manual_seed(0)
tf.utils.logging.disable_progress_bar()
torch.backends.cuda.matmul.allow_tf32 = False  # golden values in full float32 (cuDNN's convolutions
torch.backends.cudnn.allow_tf32 = False       # would otherwise round the patch embedding to TF32)
device = "cuda" if torch.cuda.is_available() else "cpu"
ROOT = sys.argv[1]
SMALL = dict(hidden_size=32, num_hidden_layers=3, num_attention_heads=4, patch_size=4)


def hidden(model, **inputs):
    with torch.no_grad():
        out = model.to(device)(**{k: v.to(device) for k, v in inputs.items()}, output_hidden_states=True)
    return {f"hidden_{i}": h.float().cpu().contiguous() for i, h in enumerate(out.hidden_states)}


def siglip2_inputs(pixels, p):
    b, c, h, w = pixels.shape
    patches = pixels.reshape(b, c, h // p, p, w // p, p).permute(0, 2, 4, 3, 5, 1).reshape(b, -1, p * p * c)
    return dict(pixel_values=patches, pixel_attention_mask=torch.ones(b, patches.shape[1], dtype=torch.int32),
                spatial_shapes=torch.tensor([[h // p, w // p]] * b))


def save(name, model, tensors):
    folder = os.path.join(ROOT, name)
    model.save_pretrained(folder, safe_serialization=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(folder, "golden.safetensors"))
    print("wrote", folder)


def perturb_vectors(model):
    """Layer scales start at 1 and biases at 0: move every 1-D parameter so that each one matters."""
    with torch.no_grad():
        for p in model.parameters():
            if p.dim() == 1:
                p.add_(0.3 * torch.randn_like(p))
    return model


def towers():
    pixels, other = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 24, 20)
    for name, act in (("clip_openai", "quick_gelu"), ("clip_openclip", "gelu")):
        clip = perturb_vectors(tf.CLIPVisionModel(tf.CLIPVisionConfig(
            **SMALL, intermediate_size=48, image_size=16, hidden_act=act, layer_norm_eps=1e-5)).eval())
        save(name, clip, {"pixels": pixels, **hidden(clip, pixel_values=pixels)})
    siglip = perturb_vectors(tf.SiglipVisionModel(tf.SiglipVisionConfig(**SMALL, intermediate_size=48,
                                                                         image_size=16)).eval())
    save("siglip", siglip, {"pixels": pixels, **hidden(siglip, pixel_values=pixels)})
    siglip2 = perturb_vectors(tf.Siglip2VisionModel(tf.Siglip2VisionConfig(**SMALL, intermediate_size=48,
                                                                           num_patches=16)).eval())
    out = {"pixels": pixels, **hidden(siglip2, **siglip2_inputs(pixels, 4)), "other_pixels": other}
    out.update({"other_" + k: v for k, v in hidden(siglip2, **siglip2_inputs(other, 4)).items()})
    save("siglip2", siglip2, out)
    for name, model in (("dinov2", tf.Dinov2Model(tf.Dinov2Config(**SMALL, mlp_ratio=2, image_size=16))),
                        ("dinov2_registers", tf.Dinov2WithRegistersModel(
                            tf.Dinov2WithRegistersConfig(**SMALL, mlp_ratio=2, image_size=16, num_register_tokens=2)))):
        perturb_vectors(model.eval())
        out = {"pixels": pixels, **hidden(model, pixel_values=pixels), "other_pixels": other}
        out.update({"other_" + k: v for k, v in hidden(model, pixel_values=other).items()})
        save(name, model, out)


def llama_config(kv_heads, tied, vocab=97):
    return tf.LlamaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=kv_heads, rope_theta=500000.0,
                          max_position_embeddings=64, tie_word_embeddings=tied)


def llamas():
    for name, kv_heads, tied in (("llama_gqa_untied", 2, False), ("llama_mha_tied", 4, True)):
        model = perturb_vectors(tf.LlamaForCausalLM(llama_config(kv_heads, tied)).eval())
        ids = torch.randint(0, 97, (2, 11))
        with torch.no_grad():
            logits = model.to(device)(input_ids=ids.to(device)).logits.float().cpu()
        save(name, model, {"input_ids": ids.float(), "logits": logits})


def generation():
    cfg = llama_config(2, False)
    cfg.initializer_range = 0.5
    model = perturb_vectors(tf.LlamaForCausalLM(cfg).eval()).to(device)
    lengths, max_new = (5, 9, 7), 12
    prompts = [torch.randint(3, 97, (n,)) for n in lengths]
    width = max(lengths)
    pad = 0
    ids = torch.tensor([[pad] * (width - len(p)) + p.tolist() for p in prompts], device=device)
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)

    def run(eos):
        with torch.no_grad():
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, num_beams=1,
                                 max_new_tokens=max_new, min_new_tokens=0, pad_token_id=pad, eos_token_id=eos,
                                 bos_token_id=None, return_dict_in_generate=True, output_scores=True)
        scores = torch.stack(out.scores, 1).float()  # [B, steps, vocab]
        top2 = scores.topk(2, -1).values
        margin = (top2[..., 0] - top2[..., 1]).min().item()
        assert margin > 1e-3, f"greedy steps too close to a tie ({margin}): pick another seed"
        return out.sequences[:, width:].cpu()

    free = run(None)  # no EOS: every row runs max_new tokens
    eos = int(free[1, 4])  # row 1's fifth token becomes the EOS: that row stops there
    generated = run(eos)
    out = {"eos": torch.tensor([float(eos)]), "max_new_tokens": torch.tensor([float(max_new)])}
    for i, p in enumerate(prompts):
        row = generated[i].tolist()
        row = row[: row.index(eos)] if eos in row else row
        out[f"prompt_{i}"] = p.float()
        out[f"generated_{i}"] = torch.tensor(row, dtype=torch.float32)
    save("generation", model, out)


def photo(rng, h, w):
    """A picture with what JPEG and resampling filters meet in photos: smooth shading, hard edges,
    fine texture."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    image = np.stack([128 + 100 * np.sin(x / 5 + c) * np.cos(y / 7 - c) for c in range(3)], -1)
    image[(x - w / 3) ** 2 + (y - h / 2) ** 2 < (min(h, w) / 4) ** 2] = rng.integers(0, 256, 3)
    image += rng.normal(0, 12, image.shape)
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


def pil_backend(name):
    """transformers 5's <Model>ImageProcessor runs on torchvision; <Model>ImageProcessorPil is the
    PIL path LLaVA trained with (and transformers 4's only one), which acsweep reproduces."""
    return getattr(tf, name + "Pil", None) or getattr(tf, name)


def processors():
    rng = np.random.default_rng(1)
    kwargs = {
        "clip_processor": ("CLIPImageProcessor", dict(size={"shortest_edge": 24}, crop_size={"height": 24, "width": 24})),
        "siglip_processor": ("SiglipImageProcessor", dict(size={"height": 32, "width": 32})),
        "dinov2_processor": ("BitImageProcessor", dict(size={"shortest_edge": 40}, crop_size={"height": 28, "width": 28},
                                                       image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])),
    }
    sizes = {"clip_processor": ((38, 57), (71, 33)), "siglip_processor": ((45, 29), (23, 61)),
             "dinov2_processor": ((53, 67), (37, 41))}
    for name, (cls, args) in kwargs.items():
        processor = pil_backend(cls)(**args)
        folder = os.path.join(ROOT, name)
        processor.save_pretrained(folder)
        out = {}
        for i, (h, w) in enumerate(sizes[name]):
            path = os.path.join(folder, f"image_{i}.jpg")
            photo(rng, h, w).save(path, quality=90, subsampling=2 if i == 0 else 0)  # 4:2:0, then 4:4:4
            with Image.open(path) as decoded:
                out[f"decoded_{i}"] = torch.from_numpy(np.asarray(decoded.convert("RGB")).astype(np.float32))
                pixels = processor(images=decoded, return_tensors="pt")["pixel_values"]
            out[f"pixel_values_{i}"] = pixels[0].contiguous()
        save_file(out, os.path.join(folder, "golden.safetensors"))
        print("wrote", folder, type(processor).__name__)


def llava():
    """A tiny LLaVA-1.5 (vision_feature_layer -2, the class token dropped, the mlp2x_gelu projector)
    from parts saved as acsweep loads them; its Stage-1 loss and A as transformers computes them."""
    folder = os.path.join(ROOT, "llava")
    image_token = 97
    clip = perturb_vectors(tf.CLIPVisionModel(tf.CLIPVisionConfig(**SMALL, intermediate_size=48, image_size=16)))
    llama = perturb_vectors(tf.LlamaForCausalLM(llama_config(2, False, vocab=image_token + 1)))
    config = tf.LlavaConfig(vision_config=clip.config, text_config=llama.config, image_token_index=image_token,
                            vision_feature_layer=-2, vision_feature_select_strategy="default",
                            projector_hidden_act="gelu")
    model = tf.LlavaForConditionalGeneration(config).eval()
    model.model.vision_tower.load_state_dict(clip.state_dict())
    model.model.language_model.load_state_dict(llama.model.state_dict())
    model.lm_head.load_state_dict(llama.lm_head.state_dict())
    clip.save_pretrained(os.path.join(folder, "clip"), safe_serialization=True)
    processor = pil_backend("CLIPImageProcessor")(size={"shortest_edge": 16}, crop_size={"height": 16, "width": 16})
    processor.save_pretrained(os.path.join(folder, "clip"))
    llama.save_pretrained(os.path.join(folder, "llama"), safe_serialization=True)
    projector = model.model.multi_modal_projector
    os.makedirs(os.path.join(folder, "projector"), exist_ok=True)
    save_file({f"model.mm_projector.{i}.{p}": getattr(projector, f"linear_{j}").get_parameter(p).detach().contiguous()
               for i, j in ((0, 1), (2, 2)) for p in ("weight", "bias")},
              os.path.join(folder, "projector", "model.safetensors"))

    rng = np.random.default_rng(2)
    images = []
    for i, (h, w) in enumerate(((23, 19), (17, 30))):
        path = os.path.join(folder, f"image_{i}.png")
        photo(rng, h, w).save(path)
        images.append(Image.open(path).convert("RGB"))
    pixels = processor(images=images, return_tensors="pt")["pixel_values"]
    visual = (16 // 4) ** 2
    captions = [torch.randint(3, 97, (n,)).tolist() for n in (7, 4)]
    bos, eos = 1, 2
    rows, labels, out = [], [], {}
    for b, caption in enumerate(captions):
        text = [bos] + caption + [eos]  # LLaVA's plain template: <image> then the caption and </s>
        out[f"ids_{b}"] = torch.tensor(text, dtype=torch.float32)
        out[f"trainable_{b}"] = torch.tensor([0.0] + [1.0] * (len(caption) + 1))
        rows.append([bos] + [image_token] * visual + caption + [eos])
        labels.append([-100] * (1 + visual) + caption + [eos])
    width = max(map(len, rows))
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    input_ids = torch.tensor([r + [eos] * (width - len(r)) for r in rows])
    label_ids = torch.tensor([lab + [-100] * (width - len(lab)) for lab in labels])
    model.to(device)
    result = model(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                   pixel_values=pixels.to(device), labels=label_ids.to(device))
    result.loss.backward()
    out["image_position"] = torch.tensor([1.0])
    out["loss"] = result.loss.detach().float().cpu().reshape(1)
    log_probs = torch.log_softmax(result.logits.detach().float().cpu()[:, :-1], -1)
    targets = label_ids[:, 1:]
    picked = log_probs.gather(-1, targets.clamp(min=0).unsqueeze(-1)).squeeze(-1) * (targets >= 0)
    out["A"] = (picked.sum(1) / (targets >= 0).sum(1)).contiguous()
    for i, j in ((0, 1), (2, 2)):
        for p in ("weight", "bias"):
            out[f"grad.{i}.{p}"] = getattr(projector, f"linear_{j}").get_parameter(p).grad.float().cpu().contiguous()
    save_file(out, os.path.join(folder, "golden.safetensors"))
    print("wrote", folder, "loss", float(out["loss"]))


def diffusions():
    # Imported here: the GPU machine has no diffusers, and its check (tests/device/gpu_check.sh, which
    # runs test_golden, not test_diffusion_golden) says so with ACSWEEP_GOLDEN_WITHOUT_DIFFUSERS=1.
    # Anywhere else a missing diffusers fails this part, and test_diffusion_golden fails on the
    # missing cases.
    if os.environ.get("ACSWEEP_GOLDEN_WITHOUT_DIFFUSERS") == "1":
        print("diffusion goldens skipped (ACSWEEP_GOLDEN_WITHOUT_DIFFUSERS=1)")
        return
    from diffusion_golden import diffusion
    diffusion(ROOT)


if __name__ == "__main__":
    os.makedirs(ROOT, exist_ok=True)
    print("transformers", tf.__version__, "torch", torch.__version__, "on", device)
    failed = []
    for part in (towers, llamas, generation, processors, llava, diffusions):  # one part failing still leaves the others' goldens
        try:
            part()
        except Exception:
            import traceback
            traceback.print_exc()
            failed.append(part.__name__)
    sys.exit(f"failed: {', '.join(failed)}" if failed else 0)
