"""Scenes of one object with named parts, and every dataset the pipeline reads, in the public
formats: captions (LLaVA JSON, plain template), instructions (LLaVA JSON conversations for the
vicuna_v1 template), keypoint pairs (SPair-71k layout with JPEGs), three multiple-choice benchmarks
and a yes/no one (JSONL). Everything is drawn from one numpy Generator, so a seed fixes it all.

An image holds one shape (square, triangle, disc or cross) of one colour and size on a textured
background. Its parts are named per shape (a square's corners, a triangle's apex...) and are the
keypoints of the pairs; which image region is which part is what correspondence measures. The
captions and questions name colour, shape, size and position: what alignment has to carry."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIDE = 64          # images are SIDE x SIDE
SUPERSAMPLE = 4    # drawn this much larger, then downsampled: antialiased edges
COLOURS = {"red": (214, 40, 40), "green": (40, 170, 70), "blue": (50, 80, 215), "yellow": (225, 205, 45),
           "purple": (140, 60, 170), "orange": (235, 130, 35)}
SHAPES = ["square", "triangle", "disc", "cross"]
SIZES = {"small": (9, 12), "large": (15, 19)}  # half-side ranges in pixels
PARTS = {
    "square": ["top left corner", "top right corner", "bottom right corner", "bottom left corner", "centre"],
    "triangle": ["apex", "left base corner", "right base corner", "centre"],
    "disc": ["top", "right", "bottom", "left", "centre"],
    "cross": ["top tip", "right tip", "bottom tip", "left tip", "centre"],
}
PLACES = ["top left", "top right", "bottom left", "bottom right"]


@dataclass
class Scene:
    shape: str
    colour: str
    size: str
    cx: float
    cy: float
    half: float
    tint: tuple

    @property
    def place(self) -> str:
        return ("top " if self.cy < SIDE / 2 else "bottom ") + ("left" if self.cx < SIDE / 2 else "right")

    @property
    def box(self) -> list:
        return [self.cx - self.half, self.cy - self.half, self.cx + self.half, self.cy + self.half]

    def keypoints(self) -> list:
        """The shape's parts in PARTS order, in pixel coordinates."""
        x, y, s = self.cx, self.cy, self.half
        return {
            "square": [(x - s, y - s), (x + s, y - s), (x + s, y + s), (x - s, y + s), (x, y)],
            "triangle": [(x, y - s), (x - s, y + s), (x + s, y + s), (x, y + s / 3)],
            "disc": [(x, y - s), (x + s, y), (x, y + s), (x - s, y), (x, y)],
            "cross": [(x, y - s), (x + s, y), (x, y + s), (x - s, y), (x, y)],
        }[self.shape]

    def caption(self) -> str:
        return f"a {self.size} {self.colour} {self.shape} in the {self.place}"


def random_scene(rng: np.random.Generator, shape=None, place=None) -> Scene:
    shape = shape or SHAPES[rng.integers(len(SHAPES))]
    colour = list(COLOURS)[rng.integers(len(COLOURS))]
    size = list(SIZES)[rng.integers(len(SIZES))]
    half = float(rng.uniform(*SIZES[size]))
    place = place or PLACES[rng.integers(len(PLACES))]
    margin = half + 1
    # the centre in the named quadrant, the object inside the image
    lo_x, hi_x = (margin, SIDE / 2 - 1) if place.endswith("left") else (SIDE / 2 + 1, SIDE - margin)
    lo_y, hi_y = (margin, SIDE / 2 - 1) if place.startswith("top") else (SIDE / 2 + 1, SIDE - margin)
    cx = float(rng.uniform(lo_x, max(lo_x, hi_x)))
    cy = float(rng.uniform(lo_y, max(lo_y, hi_y)))
    tint = tuple(int(v) for v in rng.integers(95, 160, 3))
    return Scene(shape, colour, size, cx, cy, half, tint)


def render(scene: Scene, rng: np.random.Generator) -> Image.Image:
    k = SUPERSAMPLE
    # background: a smooth field of the tint plus grain
    coarse = rng.normal(0, 18, (5, 5, 3))
    field = np.asarray(Image.fromarray(np.uint8(np.clip(coarse + 128, 0, 255))).resize((SIDE * k, SIDE * k),
                                                                                      Image.BICUBIC), np.float64)
    base = np.clip(np.array(scene.tint)[None, None, :] + field - 128 + rng.normal(0, 6, field.shape), 0, 255)
    img = Image.fromarray(np.uint8(base))
    d = ImageDraw.Draw(img)
    x, y, s = scene.cx * k, scene.cy * k, scene.half * k
    fill = COLOURS[scene.colour]
    if scene.shape == "square":
        d.rectangle([x - s, y - s, x + s, y + s], fill=fill)
    elif scene.shape == "disc":
        d.ellipse([x - s, y - s, x + s, y + s], fill=fill)
    elif scene.shape == "triangle":
        d.polygon([(x, y - s), (x - s, y + s), (x + s, y + s)], fill=fill)
    else:
        w = s / 2.6
        d.rectangle([x - w, y - s, x + w, y + s], fill=fill)
        d.rectangle([x - s, y - w, x + s, y + w], fill=fill)
    return img.filter(ImageFilter.GaussianBlur(k * 0.4)).resize((SIDE, SIDE), Image.LANCZOS)


def save_jpeg(img: Image.Image, path: str) -> None:
    img.save(path, quality=92)


# The questions, each with its options in one fixed order (so a letter names an answer: the model
# has to see the answer, not also bind option texts to letters), and the yes/no one.
QUESTIONS = {
    "shape": ("Which shape is in the image?", SHAPES, lambda s: s.shape),
    "colour": ("What colour is the object?", list(COLOURS), lambda s: s.colour),
    "position": ("Where is the object?", PLACES, lambda s: s.place),
}
LETTERS = "ABCDEFG"


FILLERS = ["plain", "blank", "empty", "flat", "dull", "soft", "grain"]


def describe(scene: Scene, rng) -> str:
    """What the image shows as words in random order among filler words: the stand-in for the
    image in the language model's pretraining text (text_model.py says why)."""
    words = [scene.size, scene.colour, scene.shape, scene.place]
    rng.shuffle(words)
    out = []
    for w in words:
        out += [FILLERS[i] for i in rng.integers(len(FILLERS), size=rng.integers(0, 4))] + [w]
    return " ".join(out + [FILLERS[i] for i in rng.integers(len(FILLERS), size=rng.integers(0, 4))])


def multiple_choice_prompt(kind: str) -> str:
    question, options, _ = QUESTIONS[kind]
    return (question + "".join(f"\n{LETTERS[i]}. {o}" for i, o in enumerate(options)) +
            "\nAnswer with the option's letter from the given choices directly.")


def multiple_choice_answer(kind: str, scene: Scene) -> str:
    _, options, truth = QUESTIONS[kind]
    return LETTERS[options.index(truth(scene))]


def size_questions(scene: Scene) -> list:
    """MME's pair: the same image asked both ways, one answer Yes and one No."""
    return [(f"Is the {scene.shape} large?", "Yes" if scene.size == "large" else "No"),
            (f"Is the {scene.shape} small?", "Yes" if scene.size == "small" else "No")]


def instruction_turns(scene: Scene, rng) -> list:
    """Five question-answer turns about the scene, in the formats the benchmarks ask, and open ones."""
    asks = [(multiple_choice_prompt(k), multiple_choice_answer(k, scene)) for k in QUESTIONS]
    asks += [(q + "\nAnswer the question using a single word or phrase.", a) for q, a in size_questions(scene)]
    asks += [(f"What colour is the {scene.shape}?", scene.colour), ("Describe the image briefly.", scene.caption())]
    chosen = rng.choice(len(asks), 5, replace=False)
    turns = []
    for n, i in enumerate(chosen):
        q, a = asks[i]
        turns += [{"from": "human", "value": ("<image>\n" if n == 0 else "") + q}, {"from": "gpt", "value": a}]
    return turns


def write_world_data(root: str, rng: np.random.Generator, counts: dict) -> dict:
    """Writes images/, captions.json, instructions.json, spair/ and benchmarks/ (shape, colour and
    position: multiple choice; size: yes/no) under root; returns the texts the language model is
    trained on."""
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    captions, instructions, scenes = [], [], []
    for i in range(counts["images"]):
        scene = random_scene(rng)
        scenes.append(scene)
        name = f"{i:05d}.jpg"
        save_jpeg(render(scene, rng), os.path.join(root, "images", name))
        captions.append({"id": f"cap{i:05d}", "image": name,
                         "conversations": [{"from": "human", "value": "<image>"},
                                           {"from": "gpt", "value": scene.caption()}]})
        instructions.append({"id": f"ins{i:05d}", "image": name, "conversations": instruction_turns(scene, rng)})
    for name, items in (("captions.json", captions), ("instructions.json", instructions)):
        with open(os.path.join(root, name), "w") as f:
            json.dump(items, f, indent=0)

    # Benchmarks on images of their own (never trained on).
    bench_dir = os.path.join(root, "benchmarks")
    os.makedirs(os.path.join(bench_dir, "images"), exist_ok=True)
    lines = {name: [] for name in list(QUESTIONS) + ["size"]}
    for i in range(counts["benchmark_images"]):
        scene = random_scene(rng, shape=SHAPES[i % len(SHAPES)], place=PLACES[(i // len(SHAPES)) % len(PLACES)])
        image = f"images/b{i:04d}.jpg"
        save_jpeg(render(scene, rng), os.path.join(bench_dir, image))
        for kind, (question, options, truth) in QUESTIONS.items():
            lines[kind].append({"id": f"{kind}{i}", "image": image, "question": question, "options": options,
                                "answer": multiple_choice_answer(kind, scene), "category": scene.shape})
        for n, (question, answer) in enumerate(size_questions(scene)):
            lines["size"].append({"id": f"size{i}{'ab'[n]}", "image": image, "question": question, "answer": answer,
                                  "category": scene.shape})
    for name, items in lines.items():
        with open(os.path.join(bench_dir, name + ".jsonl"), "w") as f:
            f.writelines(json.dumps(line) + "\n" for line in items)

    # Keypoint pairs: two scenes of one shape, colours and places drawn apart.
    spair = os.path.join(root, "spair")
    os.makedirs(os.path.join(spair, "PairAnnotation", "test"), exist_ok=True)
    for p in range(counts["pairs"]):
        shape = SHAPES[p % len(SHAPES)]
        os.makedirs(os.path.join(spair, "JPEGImages", shape), exist_ok=True)
        pair, names = [], []
        for side in ("src", "trg"):
            scene = random_scene(rng, shape=shape)
            name = f"{p:04d}_{side}.jpg"
            save_jpeg(render(scene, rng), os.path.join(spair, "JPEGImages", shape, name))
            pair.append(scene)
            names.append(name)
        src, trg = pair
        with open(os.path.join(spair, "PairAnnotation", "test", f"{p:05d}-{shape}.json"), "w") as f:
            json.dump({"pair_id": p, "src_imname": names[0], "trg_imname": names[1], "category": shape,
                       "src_kps": [[round(x, 2), round(y, 2)] for x, y in src.keypoints()],
                       "trg_kps": [[round(x, 2), round(y, 2)] for x, y in trg.keypoints()],
                       "src_bndbox": [round(v, 2) for v in src.box], "trg_bndbox": [round(v, 2) for v in trg.box],
                       "src_imsize": [SIDE, SIDE, 3], "trg_imsize": [SIDE, SIDE, 3],
                       "kps_names": PARTS[shape]}, f)

    return {"captions": [c["conversations"][1]["value"] for c in captions],
            "conversations": [c["conversations"] for c in instructions], "scenes": scenes}
