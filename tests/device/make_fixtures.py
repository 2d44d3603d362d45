#!/usr/bin/env python3
"""Golden fixtures from Hugging Face transformers, for a GPU machine where transformers and torch
are installed (nothing is downloaded: every model is built from a config with random weights).
For each family it writes FOLDER/<family>/ as save_pretrained leaves it (config.json,
model.safetensors) plus fixture.safetensors with the inputs and transformers' outputs:
  vision towers (clip, siglip, siglip2, dinov2, dinov2_registers): pixels [B,3,H,W] and
      hidden_<i> (every hidden state, prefix tokens included), at the checkpoint's size and, for
      dinov2 and siglip2, at another size (other_pixels, other_hidden_<i>);
  llama: input_ids (as float) and logits;
  processors (clip_processor, siglip_processor, dinov2_processor): preprocessor_config.json,
      image.png and pixel_values of that image.
tests/device/test_device_fixtures.cpp compares acsweep's outputs with these when
ACSWEEP_DEVICE_FIXTURES names the folder.

    python3 tests/device/make_fixtures.py FOLDER"""

import os
import sys

import numpy as np
import torch
import transformers as tf
from PIL import Image
from safetensors.torch import save_file

torch.manual_seed(0)
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
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(folder, "fixture.safetensors"))
    print("wrote", folder)


def towers():
    pixels, other = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 24, 20)
    clip = tf.CLIPVisionModel(tf.CLIPVisionConfig(**SMALL, intermediate_size=48, image_size=16)).eval()
    save("clip", clip, {"pixels": pixels, **hidden(clip, pixel_values=pixels)})
    siglip = tf.SiglipVisionModel(tf.SiglipVisionConfig(**SMALL, intermediate_size=48, image_size=16)).eval()
    save("siglip", siglip, {"pixels": pixels, **hidden(siglip, pixel_values=pixels)})
    siglip2 = tf.Siglip2VisionModel(tf.Siglip2VisionConfig(**SMALL, intermediate_size=48, num_patches=16)).eval()
    out = {"pixels": pixels, **hidden(siglip2, **siglip2_inputs(pixels, 4)), "other_pixels": other}
    out.update({"other_" + k: v for k, v in hidden(siglip2, **siglip2_inputs(other, 4)).items()})
    save("siglip2", siglip2, out)
    for name, model in (("dinov2", tf.Dinov2Model(tf.Dinov2Config(**SMALL, mlp_ratio=2, image_size=16))),
                        ("dinov2_registers", tf.Dinov2WithRegistersModel(
                            tf.Dinov2WithRegistersConfig(**SMALL, mlp_ratio=2, image_size=16, num_register_tokens=2)))):
        model.eval()
        with torch.no_grad():  # layer scale starts at 1: move it so that it matters
            for p in model.parameters():
                if p.dim() == 1:
                    p.add_(0.3 * torch.randn_like(p))
        out = {"pixels": pixels, **hidden(model, pixel_values=pixels), "other_pixels": other}
        out.update({"other_" + k: v for k, v in hidden(model, pixel_values=other).items()})
        save(name, model, out)


def llama():
    config = tf.LlamaConfig(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2, rope_theta=500000.0,
                            max_position_embeddings=64, tie_word_embeddings=False)
    model = tf.LlamaForCausalLM(config).eval()
    ids = torch.randint(0, 97, (2, 11))
    with torch.no_grad():
        logits = model.to(device)(input_ids=ids.to(device)).logits.float().cpu()
    save("llama", model, {"input_ids": ids.float(), "logits": logits})


def pil_backend(name):
    """transformers 5's <Model>ImageProcessor runs on torchvision; <Model>ImageProcessorPil is the
    PIL path LLaVA trained with (and transformers 4's only one), which acsweep reproduces."""
    return getattr(tf, name + "Pil", None) or getattr(tf, name)


def processors():
    rng = np.random.default_rng(1)
    image = Image.fromarray(rng.integers(0, 256, (38, 57, 3)).astype(np.uint8))
    kwargs = {
        "clip_processor": ("CLIPImageProcessor", dict(size={"shortest_edge": 24}, crop_size={"height": 24, "width": 24})),
        "siglip_processor": ("SiglipImageProcessor", dict(size={"height": 32, "width": 32})),
        "dinov2_processor": ("BitImageProcessor", dict(size={"shortest_edge": 40}, crop_size={"height": 28, "width": 28},
                                                       image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])),
    }
    for name, (cls, args) in kwargs.items():
        processor = pil_backend(cls)(**args)
        folder = os.path.join(ROOT, name)
        processor.save_pretrained(folder)
        image.save(os.path.join(folder, "image.png"))
        out = {"pixel_values": processor(images=image, return_tensors="pt")["pixel_values"].contiguous()}
        default = getattr(tf, cls)(**args)  # the torchvision backend in transformers 5: for the record
        out["default_backend_pixel_values"] = default(images=image, return_tensors="pt")["pixel_values"].contiguous()
        print(name, type(processor).__name__, "vs", type(default).__name__, "max |diff|",
              float((out["pixel_values"] - out["default_backend_pixel_values"]).abs().max()))
        save_file(out, os.path.join(folder, "fixture.safetensors"))
        print("wrote", folder)


if __name__ == "__main__":
    os.makedirs(ROOT, exist_ok=True)
    print("transformers", tf.__version__, "torch", torch.__version__, "on", device)
    failed = []
    for part in (towers, llama, processors):  # one family failing still leaves the others' fixtures
        try:
            part()
        except Exception:
            import traceback
            traceback.print_exc()
            failed.append(part.__name__)
    sys.exit(f"failed: {', '.join(failed)}" if failed else 0)
