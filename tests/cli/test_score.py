"""acsweep score KIND:PATH PREDICTIONS.jsonl against lmms-eval 0.1.2's own code (installed without
its dependencies by scripts/bootstrap; its task utils are loaded by path, and the modules they
import only to write submissions, log, or call MMBench's GPT judge are empty stand-ins, since
none of those paths runs here). Compared: VQA accuracy on OK-VQA, TextVQA and VizWiz files in
their shipped layouts; MME's yes/no parsing with acc + acc+ (its folder, perception and cognition
apart); SEED-Bench's and ScienceQA's answer parsing; MMBench's can_infer with CircularEval; MMMU's
parse rules (multiple choice and open) on parquet files in MMMU's layout converted by
scripts/convert_parquet.py; each on a few hundred generated predictions that exercise every rule.
Bad command lines are named."""

import importlib.util
import json
import os
import random
import sys
import types

import pytest

POOL = ["two", "2", "Two dogs", "2 dogs", "the dog", "a dog", "dog.", "dog", "dogs", "don't", "dont", "yes",
        "Yes!", "no", "red/blue", "red / blue", "red blue", "e-mail", "e-mail -", "email", "u.s.a.", "usa",
        "3.5", "1,000", "1000", "man's hat", "(yes)", "unanswerable", "Unanswerable", "none", "0", "ten",
        "10", "it's", "its", "hello world", "Hello, World?", "x-ray", "\tcat\n", "cat", "an apple", "apple"]


@pytest.fixture(scope="module")
def lmms():
    """lmms-eval's task utils by file, without importing the package's heavy modules."""
    root = importlib.util.find_spec("lmms_eval").submodule_search_locations[0]
    for name in ("lmms_eval", "lmms_eval.tasks", "lmms_eval.tasks._task_utils"):
        sys.modules.setdefault(name, types.ModuleType(name))
    files = types.ModuleType("lmms_eval.tasks._task_utils.file_utils")
    files.generate_submission_file = lambda *a, **k: None
    sys.modules["lmms_eval.tasks._task_utils.file_utils"] = files
    loguru = types.ModuleType("loguru")
    loguru.logger = types.SimpleNamespace(info=print, warning=print, debug=print, error=print)
    sys.modules.setdefault("loguru", loguru)
    sys.modules.setdefault("requests", types.ModuleType("requests"))  # MMBench's GPT judge: never called here

    def load(name, relative):
        spec = importlib.util.spec_from_file_location(name, os.path.join(root, relative))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        return module

    load("lmms_eval.tasks._task_utils.vqa_eval_metric", "tasks/_task_utils/vqa_eval_metric.py")
    return types.SimpleNamespace(okvqa=load("okvqa_utils", "tasks/ok_vqa/utils.py"),
                                 textvqa=load("textvqa_utils", "tasks/textvqa/utils.py"),
                                 vizwiz=load("vizwiz_utils", "tasks/vizwiz_vqa/utils.py"),
                                 mme=load("mme_utils", "tasks/mme/utils.py"),
                                 scienceqa=load("scienceqa_utils", "tasks/scienceqa/utils.py"),
                                 seedbench=load("seedbench_utils", "tasks/seedbench/utils.py"),
                                 mmbench=load("mmbench_evals", "tasks/mmbench/mmbench_evals.py"),
                                 mmmu=load("mmmu_utils", "tasks/mmmu/utils.py"))


def questions(n, seed):
    rng = random.Random(seed)
    out = []
    for i in range(n):
        answers = [rng.choice(POOL) for _ in range(10)]
        # Predictions that match 0 to 10 of the answers, in other spellings of the same answer.
        prediction = rng.choice(answers + POOL + [" " + answers[0].upper() + ". ", answers[0] + "?"])
        out.append(dict(i=i, answers=answers, prediction=prediction, category=rng.choice(["other", "number"])))
    return out


def expected(utils_process, items, doc_of):
    total, by_category = 0.0, {}
    for q in items:
        value = utils_process(doc_of(q), [q["prediction"]])["exact_match"]
        total += value
        by_category.setdefault(q["category"], []).append(value)
    return 100 * total / len(items), {c: 100 * sum(v) / len(v) for c, v in by_category.items()}


def write_predictions(path, items, id_of):
    with open(path, "w") as f:
        for q in items:
            f.write(json.dumps({"id": id_of(q), "prediction": q["prediction"]}) + "\n")


def score(acsweep, spec, predictions):
    return json.loads(acsweep("score", spec, predictions, "--json").stdout)


def test_okvqa_as_lmms_eval(acsweep, lmms, tmp_path):
    items = questions(300, 1)
    (tmp_path / "OpenEnded_mscoco_val2014_questions.json").write_text(json.dumps({"questions": [
        {"image_id": q["i"], "question": "Q?", "question_id": 1000 + q["i"]} for q in items]}))
    (tmp_path / "mscoco_val2014_annotations.json").write_text(json.dumps({"annotations": [
        {"question_id": 1000 + q["i"], "image_id": q["i"], "question_type": q["category"],
         "answers": [{"answer": a, "answer_id": k + 1} for k, a in enumerate(q["answers"])]} for q in items]}))
    write_predictions(tmp_path / "p.jsonl", items, lambda q: 1000 + q["i"])
    got = score(acsweep, f"vqa:{tmp_path}/OpenEnded_mscoco_val2014_questions.json", tmp_path / "p.jsonl")
    want, parts = expected(lmms.okvqa.ok_vqa_process_results, items,
                           lambda q: {"answers": list(q["answers"]), "question_id": 1000 + q["i"]})
    assert got["items"] == 300
    assert got["score"] == pytest.approx(want, abs=1e-9)
    assert got["parts"] == pytest.approx(parts, abs=1e-9)
    assert 10 < want < 90  # neither all right nor all wrong: the comparison can fail


def test_textvqa_as_lmms_eval(acsweep, lmms, tmp_path):
    items = questions(300, 2)
    (tmp_path / "TextVQA_0.5.1_val.json").write_text(json.dumps({"dataset_name": "textvqa", "data": [
        {"question": "what?", "image_id": f"img{q['i']}", "question_id": q["i"], "answers": q["answers"]}
        for q in items]}))
    write_predictions(tmp_path / "p.jsonl", items, lambda q: q["i"])
    got = score(acsweep, f"vqa:{tmp_path}/TextVQA_0.5.1_val.json", tmp_path / "p.jsonl")
    want, _ = expected(lmms.textvqa.textvqa_process_results, items,
                       lambda q: {"answers": list(q["answers"]), "question_id": q["i"]})
    assert got["score"] == pytest.approx(want, abs=1e-9)


def test_vizwiz_as_lmms_eval(acsweep, lmms, tmp_path):
    items = questions(300, 3)
    (tmp_path / "Annotations").mkdir()
    (tmp_path / "Annotations" / "val.json").write_text(json.dumps([
        {"image": f"VizWiz_val_{q['i']:08d}.jpg", "question": "what?", "answer_type": q["category"],
         "answers": [{"answer": a, "answer_confidence": "yes"} for a in q["answers"]]} for q in items]))
    write_predictions(tmp_path / "p.jsonl", items, lambda q: f"VizWiz_val_{q['i']:08d}.jpg")
    got = score(acsweep, f"vqa:{tmp_path}/Annotations/val.json", tmp_path / "p.jsonl")
    want, parts = expected(lmms.vizwiz.vizwiz_vqa_process_results, items,
                           lambda q: {"answers": list(q["answers"]), "question_id": q["i"]})
    assert got["score"] == pytest.approx(want, abs=1e-9)
    assert got["parts"] == pytest.approx(parts, abs=1e-9)


def test_mme_yes_no_as_lmms_eval(acsweep, lmms, tmp_path):
    rng = random.Random(4)
    texts = ["Yes", "No", "yes.", " NO ", "Yes, there is", "Not at all", "Maybe", "no.", "There is no", "",
             "Yes.\n", "I cannot tell"]
    lines, results = [], []
    for image in range(120):
        category = rng.choice(["existence", "count", "color", "code_reasoning"])
        for k, answer in enumerate(("Yes", "No")):  # MME: each image asked once for yes, once for no
            q = dict(id=f"{image}-{k}", image=f"{category}/{image}.png", question="Is it?", answer=answer,
                     category=category, prediction=rng.choice(texts))
            lines.append(q)
            results.append(lmms.mme.mme_process_results(
                {"answer": answer, "category": category, "question_id": q["image"]}, [q["prediction"]]))
    (tmp_path / "mme.jsonl").write_text("".join(json.dumps(q) + "\n" for q in lines))
    write_predictions(tmp_path / "p.jsonl", lines, lambda q: q["id"])
    got = score(acsweep, f"yes_no:{tmp_path}/mme.jsonl", tmp_path / "p.jsonl")
    perception = [r["mme_percetion_score"] for r in results if "mme_percetion_score" in r]
    cognition = [r["mme_cognition_score"] for r in results if "mme_cognition_score" in r]
    want = lmms.mme.mme_aggregate_results(perception) + lmms.mme.mme_aggregate_results(cognition)
    assert got["score"] == pytest.approx(want, abs=1e-9)


LETTER_TEXTS = ["A", "B", "C", "D", "B.", "B. two", " B", "B)", "b", "Because", "The answer is B", "", "C.\n",
                "D is right", "E", "A. one"]


def test_seedbench_as_lmms_eval(acsweep, lmms, tmp_path):
    rng = random.Random(5)
    questions, results = [], []
    for i in range(200):
        q = {"answer": rng.choice("ABCD"), "choice_a": "one", "choice_b": "two", "choice_c": "three",
             "choice_d": "four", "data_id": f"{i}.jpg", "data_type": "image", "question": "How many?",
             "question_id": str(i), "question_type_id": 1, "prediction": rng.choice(LETTER_TEXTS)}
        questions.append(q)
        results.append(lmms.seedbench.seed_process_result(q, [q["prediction"]])["seed_image"])
    (tmp_path / "SEED-Bench.json").write_text(json.dumps({"questions": questions,
                                                          "question_type": {"Instance Counting": 1}}))
    write_predictions(tmp_path / "p.jsonl", questions, lambda q: q["question_id"])
    got = score(acsweep, f"seedbench:{tmp_path}/SEED-Bench.json", tmp_path / "p.jsonl")
    want = 100 * lmms.seedbench.seed_aggregation_result(results)
    assert got["score"] == pytest.approx(want, abs=1e-9) and 10 < want < 90


def test_scienceqa_as_lmms_eval(acsweep, lmms, tmp_path):
    rng = random.Random(6)
    problems, total, pids = {}, 0.0, []
    for i in range(200):
        pid = str(100 + i)
        p = {"question": "Which?", "choices": ["one", "two", "three", "four"][: rng.choice((2, 3, 4))],
             "answer": 0, "hint": rng.choice(["", "A hint."]), "image": "image.png", "subject": "natural science"}
        p["answer"] = rng.randrange(len(p["choices"]))
        problems[pid] = p
        pids.append(pid)
        p["prediction"] = rng.choice(LETTER_TEXTS)
        total += lmms.scienceqa.sqa_process_results(p, [p["prediction"]])["exact_match"]
    (tmp_path / "problems.json").write_text(json.dumps(problems))
    (tmp_path / "pid_splits.json").write_text(json.dumps({"test": pids}))
    with open(tmp_path / "p.jsonl", "w") as f:
        for pid in pids:
            f.write(json.dumps({"id": pid, "prediction": problems[pid]["prediction"]}) + "\n")
    got = score(acsweep, f"scienceqa:{tmp_path}/problems.json", tmp_path / "p.jsonl")
    want = 100 * total / len(pids)
    assert got["score"] == pytest.approx(want, abs=1e-9) and 10 < want < 90


def test_mme_folder_as_lmms_eval(acsweep, lmms, tmp_path):
    rng = random.Random(7)
    texts = ["Yes", "No", "yes.", " NO ", "Yes, there is", "Not at all", "Maybe", "There is no", "", "I cannot tell"]
    results, lines = [], []
    for category in ("existence", "OCR", "artwork", "code_reasoning", "text_translation"):
        folder = tmp_path / "MME" / category
        folder.mkdir(parents=True)
        for image in range(30):
            rows = []
            for k, answer in enumerate(("Yes", "No")):
                prediction = rng.choice(texts)
                rows.append(f"Is it? Please answer yes or no.\t{answer}")
                lines.append({"id": f"{category}/{image}/{k + 1}", "prediction": prediction})
                key = "mme_percetion_score" if category in lmms.mme.eval_type_dict["Perception"] else "mme_cognition_score"
                results.append((key, lmms.mme.mme_process_results(
                    {"answer": answer, "category": category, "question_id": f"{category}/{image}.jpg"}, [prediction])[key]))
            (folder / f"{image}.txt").write_text("\n".join(rows) + "\n")
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    got = score(acsweep, f"mme:{tmp_path}/MME", tmp_path / "p.jsonl")
    for part, key in (("perception", "mme_percetion_score"), ("cognition", "mme_cognition_score")):
        want = lmms.mme.mme_aggregate_results([r for k, r in results if k == key])
        assert got["parts"][part] == pytest.approx(want, abs=1e-9)
    assert got["score"] == got["parts"]["perception"]


def test_mmbench_circular_eval_as_mmbench_s_own_rules(acsweep, lmms, tmp_path):
    """MMBench's evaluator reads each prediction with can_infer (option letter, then option text;
    its GPT judge, for what those cannot read, is not run: such a prediction counts as wrong), and a
    question counts when every circular copy is right."""
    rng = random.Random(8)
    evaluator = lmms.mmbench.MMBench_Evaluator()
    options = ["red apple", "green pear", "blue plum", "a yellow lemon"]
    texts = ["A", "B", "C", "D", "E", "B.", "(C)", "The answer is B", "A red apple", "green pear", "A or B",
             "it is blue plum", "Answer: D", "", "I think C.", "a yellow lemon or a green pear"]
    header = "index\tquestion\thint\tA\tB\tC\tD\tanswer\tcategory\timage\n"
    rows, predictions, groups = [], [], {}
    for q in range(60):
        n = rng.choice((2, 3, 4))
        answer = rng.randrange(n)
        for k in range(n):  # the circular copies: options rotated by k
            rotated = [options[(i + k) % n] for i in range(n)]
            index = q + k * 1000000
            letter = "ABCD"[(answer - k) % n]
            cells = rotated + ["nan"] * (4 - n)
            rows.append(f"{index}\tWhich?\tnan\t" + "\t".join(cells) + f"\t{letter}\tc{q % 3}\t" +
                        ("iVBORw0KGgo=" if k == 0 else str(q)) + "\n")
            right = rotated["ABCD".index(letter)]
            prediction = (rng.choice([letter, letter + ".", f"({letter})", right, f"The answer is {letter}"])
                          if rng.random() < 0.8 else rng.choice(texts))
            predictions.append({"id": str(index), "prediction": prediction})
            choices = {c: o for c, o in zip("ABCD", cells) if o != "nan"}
            read = evaluator.can_infer(prediction, dict(choices))
            groups.setdefault(q, []).append(read == letter)
    (tmp_path / "mmbench.tsv").write_text(header + "".join(rows))
    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p) + "\n" for p in predictions))
    got = score(acsweep, f"mmbench:{tmp_path}/mmbench.tsv", tmp_path / "p.jsonl")
    want = 100 * sum(all(v) for v in groups.values()) / len(groups)
    assert got["items"] == len(predictions)
    assert got["score"] == pytest.approx(want, abs=1e-9) and 2 < want < 90


def test_bad_command_lines_are_named(acsweep, tmp_path):
    (tmp_path / "p.jsonl").write_text('{"id": "nothing", "prediction": "x"}\n')
    (tmp_path / "mc.jsonl").write_text(
        '{"id": 1, "image": "a.jpg", "question": "Q?", "options": ["x", "y"], "answer": "B"}\n')
    done = acsweep("score", f"mcq:{tmp_path}/mc.jsonl", tmp_path / "p.jsonl", check=False)
    assert done.returncode == 2 and "'mcq' is not a benchmark kind" in done.stderr
    done = acsweep("score", f"multiple_choice:{tmp_path}/none.jsonl", tmp_path / "p.jsonl", check=False)
    assert done.returncode == 2 and "no such file or folder" in done.stderr
    done = acsweep("score", f"multiple_choice:{tmp_path}/mc.jsonl", tmp_path / "p.jsonl", check=False)
    assert done.returncode == 2 and "no prediction has the id of an item" in done.stderr
    done = acsweep("score", f"multiple_choice:{tmp_path}/mc.jsonl", check=False)
    assert done.returncode == 2 and "no predictions given" in done.stderr
    (tmp_path / "p.jsonl").write_text('{"id": 1, "prediction": "B."}\nnot json\n{"id": 1, "prediction": "A"}\n')
    done = acsweep("score", f"multiple_choice:{tmp_path}/mc.jsonl", tmp_path / "p.jsonl", "--json")
    assert json.loads(done.stdout)["score"] == 100.0 and json.loads(done.stdout)["skipped"] == 2
    assert "line 2: not JSON" in done.stderr and "line 3: a second prediction for id 1" in done.stderr


MMMU_CHOICE_TEXTS = ["A", "B", "(C)", "D.", "The answer is (B)", "I think B is right", "A or C", "C, not A",
                     "it must be the green pear of the options given here", "E", "(A) and (D)", "answer: C",
                     "the red apple, surely, is the one shown in the picture", "B.", "'D'"]
MMMU_OPEN = [("12", ["12", "12.0", "The answer is 12.", "so it is 13", "x = 12", "about 12.004 m", "twelve"]),
             ("1,000", ["1000", "1,000", "it is 1 000", "the total is 999.999", "1e3"]),
             ("3.14", ["3.14159", "pi is 3.14", "3.1", "approximately 3.14\nthus 3"]),
             ("Paris", ["Paris.", "paris", "the capital is paris", "Lyon", "It could be Paris or Rome"]),
             ("b", ["b", "B", "the answer is b", "ab", "a"])]


def mmmu_parquet(folder, rng, lmms):
    """MMMU's layout (a folder per subject, validation-00000-of-00001.parquet, images as
    {bytes, path}) with questions whose predictions MMMU's rules read without a random draw, and
    what lmms-eval makes of each prediction. Also a GIF image and a row with broken options."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    def picture(kind):
        out = io.BytesIO()
        Image.new("RGB", (4, 4), (200, 10, 10)).save(out, format=kind)
        return {"bytes": out.getvalue(), "path": None}

    options = ["red apple", "green pear", "blue plum", "cat"]
    index2ans, letters = lmms.mmmu.get_multi_choice_info(options)
    drawn = []
    lmms.mmmu.random = types.SimpleNamespace(choice=lambda seq: drawn.append(1) or seq[0])
    expected, predictions = [], []
    for subject in ("Art_Theory", "Math", "Physics"):
        rows = []
        for i in range(1, 121):
            qid = f"validation_{subject}_{i}"
            row = {"id": qid, "explanation": "", "img_type": "['Photos']", "topic_difficulty": "Easy",
                   "subfield": "x", **{f"image_{k}": None for k in range(1, 8)}}
            if rng.random() < 0.6:
                answer = rng.choice(letters)
                prediction = rng.choice(MMMU_CHOICE_TEXTS + [answer])
                drawn.clear()
                parsed = lmms.mmmu.parse_multi_choice_response(prediction, letters, index2ans)
                if drawn:
                    continue  # MMMU would draw at random: left out of the comparison
                row.update(question="Which fruit is in <image 1>?", options=str(options), answer=answer,
                           question_type="multiple-choice", image_1=picture("PNG"))
                if i % 7 == 0:  # a second image, named in an option, stored as GIF
                    row["options"] = str(options[:3] + ["<image 2>"])
                    row["image_2"] = picture("GIF")
                    parsed = lmms.mmmu.parse_multi_choice_response(
                        prediction, letters, dict(index2ans, D="<image 2>"))
                    if drawn:
                        continue
                right = lmms.mmmu.eval_multi_choice(answer, parsed)
            else:
                answer, said = rng.choice(MMMU_OPEN)
                prediction = rng.choice(said)
                row.update(question="How much is shown in <image 1>?", options="[]", answer=answer,
                           question_type="open", image_1=picture("JPEG"))
                right = lmms.mmmu.eval_open(answer, lmms.mmmu.parse_open_response(prediction))
            rows.append(row)
            expected.append((subject, right))
            predictions.append({"id": qid, "prediction": prediction})
        if subject == "Math":  # options that are not a list: skipped by the converter, named
            rows.append(dict(rows[-1], id="validation_Math_999", options="[broken"))
        (folder / subject).mkdir(parents=True)
        pq.write_table(pa.Table.from_pylist(rows), folder / subject / "validation-00000-of-00001.parquet",
                       row_group_size=50)
        pq.write_table(pa.Table.from_pylist(rows[:3]), folder / subject / "dev-00000-of-00001.parquet")
    return expected, predictions


def test_mmmu_converted_from_parquet_as_lmms_eval(acsweep, lmms, tmp_path):
    import subprocess
    rng = random.Random(9)
    expected, predictions = mmmu_parquet(tmp_path / "MMMU", rng, lmms)
    convert = [sys.executable, os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "convert_parquet.py"),
               "mmmu", str(tmp_path / "out"), str(tmp_path / "MMMU")]
    done = subprocess.run(convert, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "validation_Math_999" in done.stderr and "are not a list" in done.stderr
    assert f"{len(expected)} questions from 3 files (1 skipped)" in done.stdout
    assert done.stdout.splitlines()[-1] == f"mmmu:{tmp_path}/out/mmmu_validation.jsonl"
    lines = [json.loads(line) for line in (tmp_path / "out" / "mmmu_validation.jsonl").read_text().splitlines()]
    assert len(lines) == len(expected)
    seven = next(line for line in lines if line["id"] == "validation_Art_Theory_7")
    assert seven["images"] == {"image_1": "images/validation_Art_Theory_7_1.png",
                               "image_2": "images/validation_Art_Theory_7_2.png"}  # the GIF as PNG
    assert (tmp_path / "out" / seven["images"]["image_2"]).read_bytes()[:4] == b"\x89PNG"
    assert any(line["images"]["image_1"].endswith(".jpg") for line in lines)  # JPEG bytes kept as they are
    again = subprocess.run(convert, capture_output=True, text=True)
    assert again.returncode != 0 and "exists" in again.stderr

    (tmp_path / "p.jsonl").write_text("".join(json.dumps(p) + "\n" for p in predictions))
    got = score(acsweep, f"mmmu:{tmp_path}/out/mmmu_validation.jsonl", tmp_path / "p.jsonl")
    want = 100 * sum(right for _, right in expected) / len(expected)
    assert got["items"] == len(expected)
    assert got["score"] == pytest.approx(want, abs=1e-9) and 15 < want < 85
    for subject in ("Art_Theory", "Math", "Physics"):
        mine = [right for s, right in expected if s == subject]
        assert got["parts"][subject] == pytest.approx(100 * sum(mine) / len(mine), abs=1e-9)
    science = [right for s, right in expected if s in ("Math", "Physics")]
    assert got["parts"]["Overall-Science"] == pytest.approx(100 * sum(science) / len(science), abs=1e-9)
