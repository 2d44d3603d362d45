#!/usr/bin/env python3
"""Writes the embedded synthetic world the demo runs on, deterministic from the seed, in the real
formats: images, captions and instructions (LLaVA JSON), keypoint pairs (SPair-71k layout),
benchmarks (JSONL), a SentencePiece tokenizer and a small Llama trained on the world's text (HF
folder), and the encoder zoo (HF folders and a TorchScript module). See scripts/world/.

    make_world.py FOLDER [--seed S] [--size demo|test]

A folder already holding this generator's world for the same seed and size is left as it is
(world.json records which); otherwise the world is written beside it and moved into place, so an
interrupted run never leaves half a world. Runs in the project's
.venv (scripts/bootstrap): numpy, Pillow, sentencepiece, torch."""

import argparse
import hashlib
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

from world import scene, text_model, zoo  # noqa: E402

SIZES = {
    "demo": dict(images=800, benchmark_images=96, pairs=64, vocab=384, hidden=64, intermediate=176, layers=2,
                 heads=4, llm_steps=600, llm_batch=32, llm_lr=3e-3, context_share=0.85,
                 caption_copies=3, answer_weight=4.0, drop_system=0.5),
    "test": dict(images=160, benchmark_images=24, pairs=12, vocab=320, hidden=32, intermediate=64, layers=2,
                 heads=4, llm_steps=150, llm_batch=16, llm_lr=4e-3, context_share=0.85,
                 caption_copies=3, answer_weight=4.0, drop_system=0.5),
}


def generator_hash() -> str:
    h = hashlib.sha256()
    for path in sorted([os.path.join(HERE, "make_world.py")] +
                       [os.path.join(HERE, "world", f) for f in os.listdir(os.path.join(HERE, "world"))
                        if f.endswith(".py")]):
        with open(path, "rb") as f:
            h.update(os.path.basename(path).encode() + f.read())
    return h.hexdigest()[:16]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", choices=sorted(SIZES), default="demo")
    args = parser.parse_args(argv)
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ:
        # glibc hands every large tensor back to the kernel and faults it in again on the next step:
        # half the training time went to that. Keep freed memory instead, in a fresh process.
        os.environ.update(MALLOC_TRIM_THRESHOLD_=str(1 << 30), MALLOC_MMAP_THRESHOLD_=str(1 << 30))
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__)] + (argv or sys.argv[1:]))
    stamp = {"generator": generator_hash(), "seed": args.seed, "size": args.size}
    folder = os.path.abspath(args.folder)
    try:
        with open(os.path.join(folder, "world.json")) as f:
            found = json.load(f)
        if all(found.get(k) == v for k, v in stamp.items()):
            log(f"world: {folder} is up to date (seed {args.seed}, size {args.size})")
            return 0
    except (OSError, ValueError):
        pass

    start = time.time()
    temporary = folder + ".partial"
    shutil.rmtree(temporary, ignore_errors=True)
    os.makedirs(temporary)
    size = SIZES[args.size]
    log(f"world: writing {args.size} world (seed {args.seed}) to {folder}")
    streams = np.random.SeedSequence(args.seed).spawn(2)
    texts = scene.write_world_data(temporary, np.random.default_rng(streams[0]), size)
    log(f"world: {size['images']} images, {size['pairs']} keypoint pairs, {size['benchmark_images']} benchmark "
        f"images ({time.time() - start:.0f} s)")
    recipes = zoo.build_zoo(os.path.join(temporary, "encoders"), args.seed)
    log(f"world: {len(recipes)} encoders ({time.time() - start:.0f} s)")
    stamp["llm"] = text_model.build_llm(os.path.join(temporary, "llm"), texts, args.seed, size, log)
    stamp["encoders"] = [r.name for r in recipes]
    stamp["combinations"] = zoo.COMBINATIONS
    stamp["seconds"] = round(time.time() - start, 1)
    with open(os.path.join(temporary, "world.json"), "w") as f:
        json.dump(stamp, f, indent=2)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(temporary, folder)
    log(f"world: done in {stamp['seconds']} s (LLM loss {stamp['llm']['first_loss']:.2f} -> held out "
        f"{stamp['llm']['held_out_loss']:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
