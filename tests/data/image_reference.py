#!/usr/bin/env python3
"""Images and their preprocessing done the way Hugging Face does it, through Pillow and NumPy,
as a reference for src/data/image.cpp and src/data/preprocessor.cpp. Writes into FOLDER: a
random RGB image as PNG and as JPEGs of each kind, a grey PNG, a corrupt JPEG, preprocessor configs, cases.json
and expected.safetensors (Pillow's decoded pixels, resized images, preprocessed tensors).

    image_reference.py FOLDER"""

import json
import os
import sys

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from safetensors_reference import write_tensors  # noqa: E402

FILTERS = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


def photo(rng, width, height):
    """Smooth colour gradients plus noise and a sharp-edged block: ringing and aliasing show."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x * 255 / width, y * 255 / height, (x + y) * 127 / (width + height)], -1)
    base += rng.normal(0, 30, base.shape)
    base[height // 4: height // 2, width // 3: width // 2] = [250, 10, 128]
    return np.clip(base, 0, 255).astype(np.uint8)


def preprocess(img, cfg, pad):
    """transformers' CLIPImageProcessor / SiglipImageProcessor steps, and LLaVA's expand2square."""
    mean = cfg.get("image_mean", [0.48145466, 0.4578275, 0.40821073])
    std = cfg.get("image_std", [0.26862954, 0.26130258, 0.27577711])
    if pad:
        w, h = img.size
        side = max(w, h)
        square = Image.new(img.mode, (side, side), tuple(int(m * 255) for m in mean))
        square.paste(img, ((side - w) // 2, (side - h) // 2))
        img = square
    size = cfg["size"]
    if "shortest_edge" in size:
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        new_long = int(size["shortest_edge"] * long / short)
        target = (size["shortest_edge"], new_long) if w <= h else (new_long, size["shortest_edge"])
    else:
        target = (size["width"], size["height"])
    img = img.resize(target, resample=cfg.get("resample", 3))
    arr = np.asarray(img)
    if cfg.get("do_center_crop"):
        ch, cw = cfg["crop_size"]["height"], cfg["crop_size"]["width"]
        top, left = (arr.shape[0] - ch) // 2, (arr.shape[1] - cw) // 2
        arr = arr[top: top + ch, left: left + cw]
    x = (arr.astype(np.float64) * cfg.get("rescale_factor", 1 / 255)).astype(np.float32)
    x = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    return x.transpose(2, 0, 1).copy()


def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(11)
    pixels = photo(rng, 57, 38)
    img = Image.fromarray(pixels)
    img.save(os.path.join(folder, "photo.png"))
    img.save(os.path.join(folder, "photo.jpg"), quality=92)
    Image.fromarray(pixels[..., 1]).save(os.path.join(folder, "grey.png"))
    with open(os.path.join(folder, "photo.jpg"), "rb") as f:
        good = f.read()
    with open(os.path.join(folder, "corrupt.jpg"), "wb") as f:
        f.write(good[:20] + b"\x00" * 10)
    out = {"png_pixels": ("F32", pixels.astype(np.float32))}
    # JPEGs as they come in datasets: 4:2:0 and 4:4:4 chroma, grey, Adobe CMYK, progressive.
    jpegs = {"photo": (img, {"quality": 92}), "photo_444": (img, {"quality": 90, "subsampling": 0}),
             "grey": (Image.fromarray(pixels[..., 1]), {}), "cmyk": (img.convert("CMYK"), {}),
             "progressive": (img, {"progressive": True})}
    for name, (source, options) in jpegs.items():
        source.save(os.path.join(folder, f"{name}.jpg"), **options)
        decoded = np.asarray(Image.open(os.path.join(folder, f"{name}.jpg")).convert("RGB"))
        out[f"jpeg_{name}"] = ("F32", decoded.astype(np.float32))

    resizes = [(28, 19, "bicubic"), (13, 40, "bicubic"), (120, 80, "bicubic"), (57, 11, "bilinear"),
               (90, 38, "bilinear"), (5, 5, "bicubic")]
    cases = {"resize": [], "preprocess": []}
    for w, h, f in resizes:
        name = f"resize_{w}x{h}_{f}"
        got = np.asarray(img.resize((w, h), resample=FILTERS[f]))
        out[name] = ("F32", got.astype(np.float32))
        cases["resize"].append({"name": name, "source": "photo.png", "width": w, "height": h, "filter": f})
    # Dataset-sized: a 640 x 480 photo to the towers' sizes, shrunk (wide kernels) and enlarged.
    large = Image.fromarray(photo(rng, 640, 480))
    large.save(os.path.join(folder, "large.png"))
    for w, h, f in ((336, 252, "bicubic"), (224, 224, "bicubic"), (384, 384, "bilinear"), (700, 520, "bicubic")):
        name = f"resize_large_{w}x{h}_{f}"
        out[name] = ("F32", np.asarray(large.resize((w, h), resample=FILTERS[f])).astype(np.float32))
        cases["resize"].append({"name": name, "source": "large.png", "width": w, "height": h, "filter": f})
    # More than 100 times taller than wide and shrinking in height: Pillow's vertical pass comes first.
    tall = Image.fromarray(photo(rng, 2, 230))
    tall.save(os.path.join(folder, "tall.png"))
    for w, h in ((3, 40), (2, 57)):
        name = f"resize_tall_{w}x{h}"
        out[name] = ("F32", np.asarray(tall.resize((w, h), resample=Image.BICUBIC)).astype(np.float32))
        cases["resize"].append({"name": name, "source": "tall.png", "width": w, "height": h, "filter": "bicubic"})

    configs = {
        "clip": {"do_resize": True, "size": {"shortest_edge": 24}, "resample": 3, "do_center_crop": True,
                 "crop_size": {"height": 24, "width": 24}, "do_rescale": True, "rescale_factor": 1 / 255,
                 "do_normalize": True, "image_mean": [0.48145466, 0.4578275, 0.40821073],
                 "image_std": [0.26862954, 0.26130258, 0.27577711]},
        "siglip": {"do_resize": True, "size": {"height": 32, "width": 32}, "resample": 3, "do_rescale": True,
                   "rescale_factor": 1 / 255, "do_normalize": True, "image_mean": [0.5, 0.5, 0.5],
                   "image_std": [0.5, 0.5, 0.5]},
        "dinov2": {"do_resize": True, "size": {"shortest_edge": 40}, "resample": 3, "do_center_crop": True,
                   "crop_size": {"height": 28, "width": 28}, "do_rescale": True, "rescale_factor": 1 / 255,
                   "do_normalize": True, "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225]},
    }
    for name, cfg in configs.items():
        with open(os.path.join(folder, f"preprocessor_{name}.json"), "w") as f:
            json.dump(cfg, f)
        for pad in (False, True):
            key = f"prep_{name}_{'pad' if pad else 'crop'}"
            out[key] = ("F32", preprocess(img, cfg, pad))
            cases["preprocess"].append({"name": key, "config": f"preprocessor_{name}.json", "pad": pad})
    write_tensors(os.path.join(folder, "expected.safetensors"), out)
    with open(os.path.join(folder, "cases.json"), "w") as f:
        json.dump(cases, f)


if __name__ == "__main__":
    main()
