"""scripts/convert_parquet.py on parquet files written here in the lmms-lab copies' schemas (the
fields lmms-eval 0.1.2's task utils read, images as {bytes, path}): each benchmark converted into
its dataset's own layout, then read by acsweep's kind for it (`acsweep score`, with every answer
right and one wrong) and its images found where the layout puts them. A row that cannot be used is
named and counted; an existing output folder is refused. MMMU's conversion, against lmms-eval's
own scoring: test_score.py."""

import base64
import io
import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

SCRIPT = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "convert_parquet.py")


def picture(kind="PNG", colour=(10, 200, 30)):
    out = io.BytesIO()
    Image.new("RGB", (5, 3), colour).save(out, format=kind)
    return {"bytes": out.getvalue(), "path": None}


def convert(tmp_path, benchmark, rows, split, bad=None):
    """rows (and a bad row) as lmms-lab's data/<split>-0000x-of-00002.parquet, converted; returns
    (the KIND:PATH line, stderr)."""
    (tmp_path / "data").mkdir()
    half = len(rows) // 2
    for k, part in enumerate((rows[:half] + ([bad] if bad else []), rows[half:])):
        pq.write_table(pa.Table.from_pylist(part), tmp_path / "data" / f"{split}-0000{k}-of-00002.parquet")
    done = subprocess.run([sys.executable, SCRIPT, benchmark, str(tmp_path / "out"), str(tmp_path / "data")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    expected = f"{len(rows)} questions from 2 files ({1 if bad else 0} skipped)"
    assert expected in done.stdout, done.stdout
    return done.stdout.splitlines()[-1], done.stderr


def scored(acsweep, tmp_path, spec, predictions):
    (tmp_path / "p.jsonl").write_text("".join(json.dumps({"id": i, "prediction": p}) + "\n" for i, p in predictions))
    return json.loads(acsweep("score", spec, tmp_path / "p.jsonl", "--json").stdout)


def test_mme(acsweep, tmp_path):
    rows = []
    for category, name in (("existence", "0001.jpg"), ("code_reasoning", "0002.png")):
        for answer in ("Yes", "No"):
            rows.append({"question_id": f"{category}/{name}", "image": picture(), "category": category,
                         "question": f"Is it {answer}? Please answer yes or no.", "answer": answer})
    bad = dict(rows[0], image={"bytes": b"not an image", "path": None}, question_id="existence/0009.jpg")
    spec, stderr = convert(tmp_path, "mme", rows, "test", bad)
    assert "row 3 (id existence/0009.jpg): skipped: an image that does not decode" in stderr
    assert spec == f"mme:{tmp_path}/out"
    assert (tmp_path / "out" / "existence" / "0001.png").exists()
    assert (tmp_path / "out" / "existence" / "0001.txt").read_text() == (
        "Is it Yes? Please answer yes or no.\tYes\nIs it No? Please answer yes or no.\tNo\n")
    got = scored(acsweep, tmp_path, spec, [("existence/0001/1", "Yes"), ("existence/0001/2", "No"),
                                           ("code_reasoning/0002/1", "Yes"), ("code_reasoning/0002/2", "Yes")])
    assert got["items"] == 4
    assert got["parts"]["existence"] == 200 and got["parts"]["code_reasoning"] == 50
    assert got["parts"]["perception"] == 200 and got["parts"]["cognition"] == 50


def test_mmbench(acsweep, tmp_path):
    rows = [{"index": i, "question": f"Which one\tis {i}?", "hint": None if i % 2 else "a hint", "A": "x",
             "B": "y", "C": "z" if i < 3 else None, "D": None, "answer": "AB"[i % 2], "category": "c",
             "image": picture("JPEG"), "source": "s", "L2-category": "l", "comment": None, "split": "dev"}
            for i in range(4)]
    bad = dict(rows[0], index=9, image=None)
    spec, stderr = convert(tmp_path, "mmbench", rows, "dev", bad)
    assert "(id 9): skipped: no image bytes" in stderr
    assert spec == f"mmbench:{tmp_path}/out/mmbench_dev.tsv"
    lines = (tmp_path / "out" / "mmbench_dev.tsv").read_text().splitlines()
    assert lines[0].split("\t")[:4] == ["index", "question", "hint", "A"] and len(lines) == 5
    assert base64.b64decode(lines[1].split("\t")[-1])[:3] == b"\xff\xd8\xff"
    got = scored(acsweep, tmp_path, spec, [("0", "A"), ("1", "B"), ("2", "A"), ("3", "A")])
    assert got["items"] == 4 and got["score"] == 75


@pytest.mark.parametrize("dataset,split", [("okvqa", "val2014"), ("textvqa", "validation"), ("vizwiz", "val")])
def test_vqa(acsweep, tmp_path, dataset, split):
    rows = [{"question_id": (f"VizWiz_val_{i:08d}" if dataset == "vizwiz" else 100 + i), "question": "what?",
             "answers": ["cat"] * 10, "image": picture(), "image_id": (str(7 + i) if dataset != "vizwiz" else None),
             "question_type": "other"} for i in range(4)]
    bad = dict(rows[0], answers=None)
    spec, stderr = convert(tmp_path, dataset, rows, split, bad)
    assert "skipped: no 'answers'" in stderr
    ids = {"okvqa": [100, 101, 102, 103], "textvqa": [100, 101, 102, 103],
           "vizwiz": [f"VizWiz_val_{i:08d}.png" for i in range(4)]}[dataset]
    image = {"okvqa": "val2014/COCO_val2014_000000000007.png", "textvqa": "train_images/7.png",
             "vizwiz": "val/VizWiz_val_00000000.png"}[dataset]
    assert (tmp_path / "out" / image).exists()
    got = scored(acsweep, tmp_path, spec, zip(ids, ["cat", "cat", "cat", "dog"]))
    assert got["items"] == 4 and got["score"] == 75


def test_scienceqa(acsweep, tmp_path):
    rows = [{"question": "Which?", "choices": ["a", "b", "c"], "answer": i % 3, "hint": "h" if i else "",
             "image": picture("GIF") if i < 3 else None, "subject": "natural science"} for i in range(4)]
    bad = dict(rows[0], answer=7)
    spec, stderr = convert(tmp_path, "scienceqa", rows, "test", bad)
    assert "answer 7 is not an index" in stderr
    assert (tmp_path / "out" / "images" / "test" / "0" / "image.png").exists()  # the GIF as PNG
    got = scored(acsweep, tmp_path, spec, [("0", "A"), ("1", "B"), ("2", "A")])
    assert got["items"] == 3 and got["score"] == pytest.approx(200 / 3)  # the image-less problem is not IMG


def test_seedbench(acsweep, tmp_path):
    rows = [{"question_id": f"q{i}", "question": "Which?", "choice_a": "a", "choice_b": "b", "choice_c": "c",
             "choice_d": "d", "answer": "ABCD"[i], "data_type": "image", "question_type_id": 1,
             "image": [picture()]} for i in range(4)]
    bad = dict(rows[0], question_id="v1", data_type="video", image=[picture(), picture()])
    spec, stderr = convert(tmp_path, "seedbench", rows, "test", bad)
    assert "(id v1): skipped: a video question" in stderr
    assert (tmp_path / "out" / "SEED-Bench-image" / "q0.png").exists()
    got = scored(acsweep, tmp_path, spec, [("q0", "A"), ("q1", "B"), ("q2", "C"), ("q3", "A")])
    assert got["items"] == 4 and got["score"] == 75


def test_bad_command_lines(tmp_path):
    (tmp_path / "out").mkdir()
    done = subprocess.run([sys.executable, SCRIPT, "mme", str(tmp_path / "out"), str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "exists" in done.stderr
    done = subprocess.run([sys.executable, SCRIPT, "mme", str(tmp_path / "new"), str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode != 0 and "no test*.parquet under" in done.stderr
    assert not (tmp_path / "new").exists() and not any(p.name.startswith("new.partial") for p in tmp_path.iterdir())
