#!/usr/bin/env python3
"""Image preprocessing per core: acsweep (build/bench/bench_preprocess) against Pillow and NumPy
(the .venv's, the steps transformers' CLIPImageProcessor runs) on the same JPEGs. Writes photo-like
JPEGs at 336 x 336 and 640 x 480 (the sizes of LLaVA's data), a CLIP-336 preprocessor config
(shortest edge 336, centre crop 336, bicubic), and prints, per image size, seconds per image for
decoding, resizing, the steps after decoding (resize, crop, rescale, normalise) and the whole path
(decode and those steps), with the ratios Pillow / acsweep (above 1: acsweep is faster) and
previous / today for acsweep's own implementations.

    .venv/bin/python bench/preprocess_vs_pillow.py [--images 8] [--bench build/bench/bench_preprocess]"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data"))
from image_reference import photo, preprocess  # noqa: E402

CONFIG = {"do_resize": True, "size": {"shortest_edge": 336}, "resample": 3, "do_center_crop": True,
          "crop_size": {"height": 336, "width": 336}, "do_rescale": True, "rescale_factor": 1 / 255,
          "do_normalize": True, "image_mean": [0.48145466, 0.4578275, 0.40821073],
          "image_std": [0.26862954, 0.26130258, 0.27577711]}
REPEATS = 20


def best(f):
    f()
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def resize_target(width, height, shortest):
    """transformers' shortest-edge size (the same rule as image_reference.preprocess)."""
    short, long = (width, height) if width <= height else (height, width)
    new_long = int(shortest * long / short)
    return (shortest, new_long) if width <= height else (new_long, shortest)


def pillow_times(path, target):
    decode = best(lambda: np.asarray(Image.open(path).convert("RGB")))
    img = Image.open(path).convert("RGB")
    resize = best(lambda: img.resize(target, resample=Image.BICUBIC))
    steps = best(lambda: preprocess(img, CONFIG, False))
    whole = best(lambda: preprocess(Image.open(path).convert("RGB"), CONFIG, False))
    return {"decode_s": decode, "resize_s": resize, "steps_s": steps, "preprocess_s": whole}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--bench", default="build/bench/bench_preprocess")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as root:
        config = os.path.join(root, "preprocessor_config.json")
        json.dump(CONFIG, open(config, "w"))
        print("size | step | Pillow (ms) | acsweep (ms) | Pillow / acsweep | acsweep previous (ms) | previous / today")
        for width, height in ((336, 336), (640, 480)):
            paths = []
            for i in range(args.images):
                path = os.path.join(root, f"photo_{width}x{height}_{i}.jpg")
                Image.fromarray(photo(rng, width, height)).save(path, quality=90)
                paths.append(path)
            target = resize_target(width, height, CONFIG["size"]["shortest_edge"])
            out = subprocess.run([args.bench, config, str(target[0]), str(target[1]), *paths],
                                 check=True, capture_output=True, text=True).stdout
            ours = [json.loads(line) for line in out.splitlines()]
            theirs = [pillow_times(p, target) for p in paths]
            for step in ("decode_s", "resize_s", "steps_s", "preprocess_s"):
                pil = float(np.median([t[step] for t in theirs])) * 1e3
                acs = float(np.median([t[step] for t in ours])) * 1e3
                row = f"{width}x{height} -> {target[0]}x{target[1]} | {step[:-2]} | {pil:.3f} | {acs:.3f} | {pil / acs:.2f}"
                if step != "decode_s":
                    prev = float(np.median([t[step.replace("_s", "_previous_s")] for t in ours])) * 1e3
                    row += f" | {prev:.3f} | {prev / acs:.2f}"
                print(row, flush=True)
            differing = sum(t["bytes_differing_from_previous"] for t in ours)
            if differing:
                print(f"  ({differing} resized bytes differ from the previous implementation's)")


if __name__ == "__main__":
    main()
