#!/usr/bin/env python3
"""Benchmarks that ship as parquet, into files acsweep reads (C++ has no parquet reader).

    .venv/bin/python scripts/convert_parquet.py BENCHMARK OUT PARQUET_OR_FOLDER... [--split S]

Every parquet file of the split (file names starting with S) under the given paths is read, a row
group at a time, and OUT gets the files acsweep's kind for the benchmark reads:
  - mmmu: MMMU as released (MMMU/MMMU: a folder per subject, each with validation-*.parquet) or
    as lmms-eval loads it (lmms-lab/MMMU: data/validation-*.parquet) -> mmmu_<split>.jsonl, a line
    per question {"id", "question", "options": [...] (the list the dataset gives as Python text;
    empty for an open question), "answer", "question_type", "images": {"image_1":
    "images/<id>_1.png", ...}, "subfield", "img_type", "topic_difficulty"}, and images/ (kind mmmu);
  - the copies lmms-eval 0.1.2 loads from lmms-lab (the fields its task utils read), into the
    layouts their datasets ship in: mme (lmms-lab/MME, split test: the release folder, a folder
    per category with the images and "question<TAB>answer" files), mmbench (lmms-lab/MMBench, en,
    split dev: MMBench's TSV with base64 images), okvqa (lmms-lab/OK-VQA, val2014), textvqa
    (lmms-lab/textvqa, validation), vizwiz (lmms-lab/VizWiz-VQA, val): the question and
    annotation files with the images where the dataset puts them (kind vqa), scienceqa
    (lmms-lab/ScienceQA, config ScienceQA-IMG, test: problems.json and pid_splits.json, pids the
    row numbers), seedbench (lmms-lab/SEED-Bench, test: SEED-Bench.json, the image questions).
Images are written as their bytes when they are PNG or JPEG, otherwise converted to RGB PNG with
Pillow (as lmms-eval's convert("RGB") sees them). A row that cannot be used (a field missing,
options that are not a list, an image that does not decode) is skipped and named on stderr, and
counted. OUT is written under a temporary name and moved into place at the end; an existing OUT
is refused. The last line printed names the file for `[benchmarks] NAME = KIND:PATH`.
"""

import argparse
import ast
import base64
import io
import json
import os
import shutil
import sys

import pyarrow.parquet as pq
from PIL import Image

MAX_IMAGES = 7  # MMMU's image_1 .. image_7


def parquet_files(paths, split):
    """The split's parquet files under `paths` (files or folders), sorted, or SystemExit naming the path."""
    found = []
    for path in paths:
        if os.path.isfile(path):
            found.append(path)
        elif os.path.isdir(path):
            for folder, _, names in os.walk(path):
                found += [os.path.join(folder, n) for n in names
                          if n.endswith(".parquet") and n.startswith(split)]
        else:
            sys.exit(f"convert_parquet: {path}: no such file or folder")
    if not found:
        sys.exit(f"convert_parquet: no {split}*.parquet under {', '.join(paths)}")
    return sorted(found)


def rows(files):
    """(file, row number, row) of every parquet file, a row group at a time."""
    for path in files:
        source = pq.ParquetFile(path)
        number = 0
        for group in range(source.num_row_groups):
            for row in source.read_row_group(group).to_pylist():
                number += 1
                yield path, number, row


def image_bytes(value):
    """An image cell ({"bytes", "path"}) as (extension, bytes): PNG and JPEG as they are, other
    formats as RGB PNG. ValueError when it holds none or does not decode."""
    data = value.get("bytes") if isinstance(value, dict) else None
    if not data:
        raise ValueError("no image bytes")
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png", data
    if data[:3] == b"\xff\xd8\xff":
        return ".jpg", data
    try:
        with Image.open(io.BytesIO(data)) as image:
            out = io.BytesIO()
            image.convert("RGB").save(out, format="PNG")
    except Exception as e:  # Pillow raises several kinds for bytes it cannot read
        raise ValueError(f"an image that does not decode ({e})") from None
    return ".png", out.getvalue()


def write_image(value, folder, stem):
    """The image cell written as folder/stem<extension>; that file's name."""
    extension, payload = image_bytes(value)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, stem + extension), "wb") as f:
        f.write(payload)
    return stem + extension


def safe_name(value):
    """A file name from an id: letters, digits, '-', '_' and '.' kept, the rest '_'."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(value)).lstrip(".") or "_"


def field(row, key):
    """A field that is present and not empty, or ValueError naming it."""
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value):
        raise ValueError(f"no '{key}'")
    return value


def dump(path, content):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(content, f, ensure_ascii=False)


# Each converter: add(row) takes a row or raises ValueError (the row is skipped, nothing of it
# written); finish() writes what is left and returns the file acsweep is given.

class Mmmu:
    def __init__(self, out, split):
        self.out, self.name = out, os.path.join(out, f"mmmu_{split}.jsonl")
        self.jsonl = open(self.name, "w", encoding="utf-8")

    def add(self, row):
        for key in ("id", "question", "question_type", "answer"):
            field(row, key)
        options = row.get("options") or "[]"
        try:
            options = ast.literal_eval(options) if isinstance(options, str) else list(options)
        except (ValueError, SyntaxError):
            raise ValueError(f"options {row['options']!r} are not a list") from None
        if not isinstance(options, list):
            raise ValueError(f"options {row['options']!r} are not a list")
        present = [k for k in range(1, MAX_IMAGES + 1) if row.get(f"image_{k}") is not None]
        for k in present:  # every image checked before any is written
            try:
                image_bytes(row[f"image_{k}"])
            except ValueError as e:
                raise ValueError(f"image_{k}: {e}") from None
        files = {f"image_{k}": "images/" + write_image(row[f"image_{k}"], os.path.join(self.out, "images"),
                                                       f"{safe_name(row['id'])}_{k}") for k in present}
        line = {"id": row["id"], "question": row["question"], "options": [str(o) for o in options],
                "answer": row["answer"], "question_type": row["question_type"], "images": files}
        for key in ("subfield", "img_type", "topic_difficulty"):
            if row.get(key) is not None:
                line[key] = row[key]
        self.jsonl.write(json.dumps(line, ensure_ascii=False) + "\n")

    def finish(self):
        self.jsonl.close()
        return self.name


class Mme:
    """question_id "<category>/<image>": the image is written once, its questions appended."""

    def __init__(self, out, split):
        self.out = out

    def add(self, row):
        category = safe_name(field(row, "category"))
        stem = safe_name(os.path.splitext(os.path.basename(str(field(row, "question_id"))))[0])
        question, answer = str(field(row, "question")), str(field(row, "answer"))
        if any(c in question + answer for c in "\t\r\n"):
            raise ValueError("a tab or a line end in the question or answer")
        folder = os.path.join(self.out, category)
        if not any(os.path.exists(os.path.join(folder, stem + e)) for e in (".png", ".jpg")):
            write_image(row.get("image"), folder, stem)
        with open(os.path.join(folder, stem + ".txt"), "a", encoding="utf-8") as f:
            f.write(f"{question}\t{answer}\n")

    def finish(self):
        return self.out


class Mmbench:
    COLUMNS = ["index", "question", "hint", "A", "B", "C", "D", "E", "answer", "category", "image"]

    def __init__(self, out, split):
        self.name = os.path.join(out, f"mmbench_{split}.tsv")
        self.tsv = open(self.name, "w", encoding="utf-8")
        self.tsv.write("\t".join(self.COLUMNS) + "\n")

    def add(self, row):
        for key in ("index", "question", "A", "B", "answer"):
            field(row, key)
        _, payload = image_bytes(row.get("image"))

        def cell(value):  # a TSV cell: None as MMBench's "nan"; tabs and line ends as spaces
            value = "nan" if value is None else str(value)
            return value.replace("\t", " ").replace("\r\n", " ").replace("\n", " ").replace("\r", " ")

        cells = [cell(row.get(c)) for c in self.COLUMNS[:-1]] + [base64.b64encode(payload).decode()]
        self.tsv.write("\t".join(cells) + "\n")

    def finish(self):
        self.tsv.close()
        return self.name


class Vqa:
    """OK-VQA, TextVQA or VizWiz: the question and annotation files as each dataset ships them."""

    def __init__(self, out, split, dataset):
        self.out, self.dataset = out, dataset
        self.questions, self.annotations, self.data = [], [], []

    def add(self, row):
        qid, question = field(row, "question_id"), str(field(row, "question"))
        answers = [a["answer"] if isinstance(a, dict) else str(a) for a in field(row, "answers")]
        if self.dataset == "okvqa":  # images val2014/COCO_val2014_<12 digits>.jpg, by image id
            try:
                image_id = int(row.get("image_id", qid))
            except (TypeError, ValueError):
                raise ValueError(f"image id {row.get('image_id', qid)!r} is not a number") from None
            write_image(row.get("image"), os.path.join(self.out, "val2014"), f"COCO_val2014_{image_id:012d}")
            self.questions.append({"image_id": image_id, "question": question, "question_id": qid})
            self.annotations.append({"question_id": qid, "image_id": image_id,
                                     "question_type": row.get("question_type") or "other",
                                     "answers": [{"answer": a, "answer_id": k + 1} for k, a in enumerate(answers)]})
        elif self.dataset == "textvqa":  # images train_images/<image_id>.jpg
            image_id = safe_name(row.get("image_id") or qid)
            write_image(row.get("image"), os.path.join(self.out, "train_images"), image_id)
            self.data.append({"question": question, "image_id": image_id, "question_id": qid, "answers": answers})
        else:  # VizWiz: images val/<image>, the image's name the question's id
            image = write_image(row.get("image"), os.path.join(self.out, "val"), safe_name(qid))
            self.data.append({"image": image, "question": question,
                              "answer_type": row.get("answer_type") or row.get("category") or "other",
                              "answers": [{"answer": a, "answer_confidence": "yes"} for a in answers]})

    def finish(self):
        if self.dataset == "okvqa":
            dump(os.path.join(self.out, "mscoco_val2014_annotations.json"), {"annotations": self.annotations})
            name = os.path.join(self.out, "OpenEnded_mscoco_val2014_questions.json")
            dump(name, {"questions": self.questions})
        elif self.dataset == "textvqa":
            name = os.path.join(self.out, "TextVQA_0.5.1_val.json")
            dump(name, {"dataset_name": "textvqa", "data": self.data})
        else:
            os.makedirs(os.path.join(self.out, "Annotations"), exist_ok=True)
            name = os.path.join(self.out, "Annotations", "val.json")
            dump(name, self.data)
        return name


class ScienceQa:
    """pids are the rows' numbers in the split (lmms-lab's copy has none); images
    images/test/<pid>/image.png; a problem without an image is kept, as ScienceQA's files keep it."""

    def __init__(self, out, split):
        self.out, self.problems = out, {}

    def add(self, row):
        choices, answer = field(row, "choices"), row.get("answer")
        if not isinstance(answer, int) or not 0 <= answer < len(choices):
            raise ValueError(f"answer {answer!r} is not an index into the choices")
        pid = str(len(self.problems))
        problem = {"question": str(field(row, "question")), "choices": [str(c) for c in choices],
                   "answer": answer, "hint": row.get("hint") or "", "image": None,
                   "subject": row.get("subject") or "all", "split": "test"}
        if row.get("image") is not None:
            problem["image"] = write_image(row["image"], os.path.join(self.out, "images", "test", pid), "image")
        self.problems[pid] = problem

    def finish(self):
        dump(os.path.join(self.out, "pid_splits.json"), {"test": list(self.problems)})
        name = os.path.join(self.out, "problems.json")
        dump(name, self.problems)
        return name


class SeedBench:
    """The image questions (seed_image); a video's are skipped and counted."""

    def __init__(self, out, split):
        self.out, self.questions = out, []

    def add(self, row):
        if row.get("data_type", "image") != "image":
            raise ValueError(f"a {row.get('data_type')} question (seed_image holds the image ones)")
        images = row.get("image") or []
        images = [images] if isinstance(images, dict) else images
        if len(images) != 1:
            raise ValueError(f"{len(images)} images, not one")
        qid = str(field(row, "question_id"))
        question = {"question_id": qid, "question": str(field(row, "question")),
                    "answer": str(field(row, "answer")), "data_type": "image"}
        for key in ("choice_a", "choice_b", "choice_c", "choice_d"):
            question[key] = str(field(row, key))
        if row.get("question_type_id") is not None:
            question["question_type_id"] = row["question_type_id"]
        question["data_id"] = write_image(images[0], os.path.join(self.out, "SEED-Bench-image"), safe_name(qid))
        self.questions.append(question)

    def finish(self):
        name = os.path.join(self.out, "SEED-Bench.json")
        dump(name, {"questions": self.questions, "question_type": {}})
        return name


# benchmark -> (converter, the default split, the kind acsweep reads the result as)
CONVERTERS = {
    "mmmu": (Mmmu, "validation", "mmmu"),
    "mme": (Mme, "test", "mme"),
    "mmbench": (Mmbench, "dev", "mmbench"),
    "okvqa": (lambda out, split: Vqa(out, split, "okvqa"), "val2014", "vqa"),
    "textvqa": (lambda out, split: Vqa(out, split, "textvqa"), "validation", "vqa"),
    "vizwiz": (lambda out, split: Vqa(out, split, "vizwiz"), "val", "vqa"),
    "scienceqa": (ScienceQa, "test", "scienceqa"),
    "seedbench": (SeedBench, "test", "seedbench"),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benchmark", choices=sorted(CONVERTERS))
    parser.add_argument("out", help="the folder to write (must not exist)")
    parser.add_argument("inputs", nargs="+", help="parquet files, or folders to look for them in")
    parser.add_argument("--split", help="the split's file-name prefix (by default the one lmms-eval evaluates)")
    args = parser.parse_args()
    make, default_split, kind = CONVERTERS[args.benchmark]
    split = args.split or default_split
    out = os.path.abspath(args.out)
    if os.path.exists(out):
        sys.exit(f"convert_parquet: {out} exists; give a new folder")
    files = parquet_files(args.inputs, split)
    partial = f"{out}.partial-{os.getpid()}"
    written = skipped = 0
    try:
        os.makedirs(partial)
        converter = make(partial, split)
        for path, number, row in rows(files):
            try:
                converter.add(row)
                written += 1
            except ValueError as e:
                skipped += 1
                ident = next((row[k] for k in ("id", "question_id", "index") if row.get(k) is not None), None)
                print(f"convert_parquet: {path}: row {number} (id {ident}): skipped: {e}", file=sys.stderr)
        if written == 0:
            sys.exit(f"convert_parquet: no usable row in {len(files)} files ({skipped} skipped)")
        name = converter.finish()
        os.rename(partial, out)
    finally:
        if os.path.exists(partial):
            shutil.rmtree(partial)
    print(f"convert_parquet: {written} questions from {len(files)} files ({skipped} skipped) into {out}")
    print(f"{kind}:{os.path.normpath(os.path.join(out, os.path.relpath(name, partial)))}")


if __name__ == "__main__":
    main()
