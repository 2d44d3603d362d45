"""acsweep run on a scoring sweep: a tiny world in the real formats (tests/fixtures/tiny_world.py),
three settings (two towers and their combination). The same numbers at 1 and 4 ranks, a rerun
that recomputes nothing, a changed C definition that recomputes C but reads the Stage-1
projectors back, results that agree with themselves, and bad job files named."""

import json
import os
import re
import subprocess
import sys

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WORLD = os.path.join(HERE, "..", "fixtures", "tiny_world.py")

JOB = """[job]
name = tiny-scoring
output = out
seed = 5

[llm]
folder = world/llm

[encoders]
clip = world/encoders/clip
dino = world/encoders/dino

[search]
settings = clip; dino; clip+dino

[stage1]
data = world/captions.json
images = world/images
lr = 3e-3
global_batch = 8
micro_batch = 4
epochs = 2

[a_score]
n = 8
batch = 4
references = clip

[c_score]
root = world/spair
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scoring")
    subprocess.run([sys.executable, WORLD, str(folder / "world"), "2"], check=True)
    return folder


def write_job(folder, text=JOB, name="job.ini"):
    path = folder / name
    path.write_text(text)
    return path


def segment(out_dir, number):
    return h5py.File(out_dir / "segments" / f"segment-{number:04d}.h5", "r")


def run(acsweep, job, *sets, ranks=None):
    args = ["run", job]
    for s in sets:
        args += ["--set", s]
    return acsweep(*args, ranks=ranks)


def test_plan_then_one_rank_equals_four_and_rerun_is_free(acsweep, world):
    job = write_job(world)
    plan = acsweep("run", job, "--dry-run").stdout
    assert "scoring: 3 settings; Stage 1 on 40 captions (10 steps of 8), A on 8 held out, C on 6 pairs" in plan
    assert "clip+dino (" in plan
    assert not (world / "out").exists()

    done = run(acsweep, job, "job.output=one")
    assert "stage 1 step 10/10" in done.stderr and "A_similarity" in done.stdout
    run(acsweep, job, "job.output=four", ranks=4)
    with segment(world / "one", 1) as a, segment(world / "four", 1) as b:
        assert a.attrs["complete"] == 1 and b.attrs["complete"] == 1
        np.testing.assert_array_equal(a["tasks/values"][()], b["tasks/values"][()])
        for name in a["tasks/per_sample"]:
            np.testing.assert_array_equal(a["tasks/per_sample"][name][()], b["tasks/per_sample"][name][()])

        # The file agrees with itself: the summaries are the means of what they summarise.
        s = a["scores"]
        assert [x.decode() for x in s["setting"][()]] == ["clip", "dino", "clip+dino"]
        per = a["tasks/per_sample"]
        np.testing.assert_allclose(s["A"][()], per["A"][()].mean(1), rtol=1e-12)
        np.testing.assert_allclose(s["C"][()], 100 * per["C_correct"][()].mean(1), rtol=1e-12)
        np.testing.assert_allclose(s["C_per_image"][()], per["C_per_pair"][()].mean(1), rtol=1e-12)
        assert per["C_correct"].shape == (3, int(s["pair_keypoints"][()].sum()))
        assert len(s["manifest"][()]) == 8
        assert s["A_similarity"][0] == pytest.approx(1.0)  # clip against itself
        assert np.all(s["A"][()] < 0) and np.all(s["stage1_captions"][()] == 40)
        loss = per["stage1_loss"][()]
        assert np.all(loss[:, -1] < loss[:, 0])
        np.testing.assert_array_equal(s["stage1_final_loss"][()], loss[:, -1])

    again = run(acsweep, job, "job.output=one")
    assert "3 tasks, 3 done earlier, 0 to run" in again.stderr
    with segment(world / "one", 1) as a, segment(world / "one", 2) as b:
        np.testing.assert_array_equal(a["tasks/values"][()], b["tasks/values"][()])
        np.testing.assert_array_equal(a["tasks/per_sample/C_correct"][()], b["tasks/per_sample/C_correct"][()])

    # Another C threshold: every task again, but Stage 1 is read back, so A is unchanged.
    changed = run(acsweep, job, "job.output=one", "c_score.alpha=0.5")
    assert "0 done earlier, 3 to run" in changed.stderr
    assert "Stage-1 projector read from" in changed.stderr and "stage 1 step" not in changed.stderr
    with segment(world / "one", 1) as a, segment(world / "one", 3) as b:
        np.testing.assert_array_equal(a["scores/A"][()], b["scores/A"][()])
        assert np.all(b["scores/C"][()] >= a["scores/C"][()])


def test_stage1_data_parallel_on_a_worker_group_follows_one_rank(acsweep, world):
    job = write_job(world)
    plan = acsweep("run", job, "--dry-run", "--set", "stage1.data_parallel=true").stdout
    assert "Stage 1: data-parallel over each worker group" in plan
    single = run(acsweep, job, "job.output=dp1", "stage1.data_parallel=true")
    assert "stage 1 step 10/10" in single.stderr
    # The coordinator and one worker group of two: every score task runs on the group, which
    # trains the projectors (the reference's too) data-parallel, and its rank 0 scores.
    run(acsweep, job, "job.output=dp3", "stage1.data_parallel=true", "layout.groups=1", "layout.group_size=2",
        ranks=3)
    with segment(world / "dp1", 1) as a, segment(world / "dp3", 1) as b, segment(world / "one", 1) as plain:
        assert list(b["tasks/rank"][()]) == [1, 1, 1]
        # One rank data-parallel is one rank: the same numbers as without it, to the bit.
        np.testing.assert_array_equal(a["tasks/values"][()], plain["tasks/values"][()])
        np.testing.assert_allclose(b["tasks/per_sample/stage1_loss"][()], a["tasks/per_sample/stage1_loss"][()],
                                   rtol=1e-5)
        for column in ("A", "A_similarity", "stage1_final_loss"):
            np.testing.assert_allclose(b["scores/" + column][()], a["scores/" + column][()], rtol=1e-5)
        np.testing.assert_array_equal(b["scores/C"][()], a["scores/C"][()])  # C does not use the projector


@pytest.mark.parametrize("edit,message", [
    (("clip; dino; clip+dino", "clip; vit"), "[search] settings: 'vit' in 'vit' is not an [encoders] name"),
    (("dino = world/encoders/dino", "dino = world/encoders/none"), "[encoders] dino: no such folder"),
    (("lr = 3e-3", "lr = fast"), "[stage1] lr"),
    (("n = 8", "n = 48"), "48 captions with images; [a_score] n = 48 held out would leave none"),
    (("references = clip", "references = siglip"), "[a_score] references: 'siglip' is not one of the settings"),
    (("[c_score]", "[c_score]\nsplit = val"), "[c_score] split: no folder"),
    (("epochs = 2", "epochs = 2\nwarmup = 1"), "[stage1] warmup: unknown key"),
    # the loss of every step is kept: a billion epochs would fill the disk at the segment's creation
    (("epochs = 2", "epochs = 1000000000"), "[stage1] epochs: must be from 1 to 1000"),
])
def test_bad_job_files_are_named(acsweep, world, edit, message):
    job = write_job(world, JOB.replace(*edit), "bad.ini")
    done = acsweep("run", job, check=False)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert not (world / "out").exists()  # refused before any work
    plan = acsweep("run", job, "--dry-run", check=False)
    if "no such folder" in message or "no folder" in message:
        # a plan for another machine: what is missing here is listed, not an error
        assert plan.returncode == 0 and "not found on this machine (1)" in plan.stdout and message in plan.stdout
    else:
        assert plan.returncode == 2 and message in plan.stderr


FINETUNE = JOB.replace("settings = clip; dino; clip+dino", "settings = clip; dino").replace(
    "references = clip\n", "") + """
[finetune]
settings = clip

[stage2]
data = world/captions.json
images = world/images
lr = 1e-3
global_batch = 8
micro_batch = 2
epochs = 2
checkpoint_every = 4

[benchmarks]
shapes = multiple_choice:world/shapes.jsonl
yes_no = yes_no:world/yes_no.jsonl
"""


def test_finetune_on_a_worker_group_equals_one_rank(acsweep, world):
    job = write_job(world, FINETUNE, "finetune.ini")
    plan = acsweep("run", job, "--dry-run").stdout
    assert "finetuning: 1 settings, Stage 2 (12 steps of 8) on worker groups, then 2 benchmarks (shapes, yes_no)" in plan
    one = run(acsweep, job, "job.output=ft1", "stage2.peak_tflops=0.001")
    assert "stage 2 step 12/12" in one.stderr and "finetuned setting" in one.stdout
    # MFU: the model FLOP/s over the peak the job gives (here 1 GFLOP/s).
    rates = re.findall(r"([\d.]+) model GFLOP/s per rank, MFU ([\d.]+)%", one.stderr)
    assert rates and all(float(m) == pytest.approx(100 * float(g), abs=0.6) for g, m in rates)
    assert re.search(r"stage 2 step 12/12, .* peak memory \d+\.\d\d GiB", one.stderr)
    # Three ranks: the coordinator and one worker group of two, which trains data-parallel (its
    # gradient sums overlapping the backward, each decoder layer recomputed in the backward).
    run(acsweep, job, "job.output=ft3", "layout.groups=1", "layout.group_size=2", "stage2.overlap_reduction=true",
        "stage2.activation_checkpointing=true", ranks=3)
    # The same group with its state and the decoder layers' weights sharded (each layer gathered
    # while it runs): every rank writes its own shard of each checkpoint, only the newest is kept,
    # and the model is whole again for the benchmarks.
    sharded = run(acsweep, job, "job.output=ft3s", "layout.groups=1", "layout.group_size=2",
                  "stage2.shard=parameters", "stage2.keep_checkpoints=1", ranks=3)
    assert "stage 2 on 2 rank(s), shard parameters, float32 weights" in sharded.stderr
    # One rank in bf16 over float32 master shards: it learns as float32 does, to bf16's rounding,
    # and answers the benchmarks with its bf16 weights.
    bf16 = run(acsweep, job, "job.output=ft1b", "stage2.shard=gradients", "stage2.param_dtype=bf16")
    assert "shard gradients, bf16 (float32 master shards) weights" in bf16.stderr
    kept = sorted(p.relative_to(world / "ft3s" / "stage2") for p in (world / "ft3s" / "stage2").glob("*/checkpoint*/*"))
    assert [p.parts[1:] for p in kept] == [("checkpoint-12", name) for name in
                                          ("DONE", "manifest.json", "shard-0-of-2.safetensors",
                                           "shard-1-of-2.safetensors", "state.json")]
    with segment(world / "ft3s", 1) as c:
        ft3s_loss = c["tasks/per_sample/stage2_loss"][()]
        ft3s_shapes = c["finetune/shapes"][()]
    with segment(world / "ft1b", 1) as d:
        bf16_loss = d["tasks/per_sample/stage2_loss"][()]
        assert np.all(np.isfinite(d["finetune/shapes"][()])) and np.all(np.isfinite(d["finetune/yes_no"][()]))
    with segment(world / "ft1", 1) as a, segment(world / "ft3", 1) as b:
        np.testing.assert_allclose(a["tasks/per_sample/stage2_loss"][()], ft3s_loss, rtol=1e-5)
        np.testing.assert_array_equal(a["finetune/shapes"][()], ft3s_shapes)
        np.testing.assert_allclose(a["tasks/per_sample/stage2_loss"][()], bf16_loss, rtol=1e-2)
        for f in (a, b):
            assert [x.decode() for x in f["finetune/setting"][()]] == ["clip"]
            assert f["finetune/shapes"].shape == (1,)
            # Peak memory: the group's largest rank, and every rank's over the run (resident sets
            # here: at least the LLM and the encoder are in them).
            assert f["finetune/stage2_peak_bytes"][0] > 50e6
            peaks = f["ranks/peak_memory_bytes"][()]
            assert peaks.shape == (f.attrs["world_size"],) and np.all(peaks > 10e6)
            assert f["finetune/stage2_peak_bytes"][0] <= peaks.max()
        np.testing.assert_allclose(a["tasks/per_sample/stage2_loss"][()], b["tasks/per_sample/stage2_loss"][()],
                                   rtol=1e-5)
        for name in ("shapes", "yes_no"):
            np.testing.assert_array_equal(a["finetune/" + name][()], b["finetune/" + name][()])
            correct = a[f"tasks/per_sample/{name}_correct"][()]
            assert correct.shape == (3, 12 if name == "shapes" else 24)  # a row per task
        np.testing.assert_allclose(a["finetune/shapes"][()], 100 * np.nanmean(a["tasks/per_sample/shapes_correct"][2:]))
    assert (world / "ft1" / "stage2").is_dir()  # checkpoints every 4 steps
    # The finetuned model as a LLaVA folder that transformers loads: every LLM weight, and the
    # projector under LLaVA's names.
    import safetensors.torch
    import sentencepiece
    import torch
    import transformers
    folders = list((world / "ft1" / "stage2").glob("*/llava-clip"))
    assert len(folders) == 1, folders
    model = folders[0]
    index = json.loads((model / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {p.name for p in model.glob("model-*-of-*.safetensors")}
    config = json.loads((model / "config.json").read_text())
    assert config["mm_projector_type"] == "mlp2x_gelu" and config["mm_hidden_size"] > 0
    assert config["architectures"] == ["LlavaLlamaForCausalLM"] and config["mm_vision_select_layer"] == -2
    llm, info = transformers.LlamaForCausalLM.from_pretrained(model, output_loading_info=True)
    projector = {"model.mm_projector.0.weight", "model.mm_projector.0.bias", "model.mm_projector.2.weight",
                 "model.mm_projector.2.bias"}
    assert not info["missing_keys"] and set(info["unexpected_keys"]) == projector
    stored = {}
    for name in set(index["weight_map"].values()):
        stored.update(safetensors.torch.load_file(model / name))
    assert projector <= set(stored) and stored["model.mm_projector.0.weight"].dtype == torch.bfloat16
    base = transformers.LlamaForCausalLM.from_pretrained(world / "world" / "llm")
    trained, untrained = llm.model.layers[0].mlp.up_proj.weight, base.model.layers[0].mlp.up_proj.weight
    assert trained.shape == untrained.shape and not torch.allclose(trained.float(), untrained.float())
    assert sentencepiece.SentencePieceProcessor(model_file=str(model / "tokenizer.model")).get_piece_size() > 0


def test_generated_answers_on_a_worker_group_equal_one_rank_and_rescore_alike(acsweep, world):
    """answers = generate (lmms-eval's protocol) with an open-ended benchmark in VizWiz's layout: a
    group of two generates each half and gives what one rank gives, the predictions are saved per
    item, and `acsweep score` on them gives the score the results hold."""
    job = write_job(world, FINETUNE.replace("yes_no = yes_no:world/yes_no.jsonl",
                                            "yes_no = yes_no:world/yes_no.jsonl\nvizwiz = vqa:world/vizwiz/Annotations/val.json\n"
                                            "mmbench = mmbench:world/mmbench.tsv\nmmmu = mmmu:world/mmmu/mmmu_validation.jsonl")
                    .replace("settings = clip\n", "settings = clip\nanswers = generate\nmax_new_tokens = 6\n"),
                    "generate.ini")
    plan = acsweep("run", job, "--dry-run").stdout
    assert ("benchmarks: mmbench (mmbench, generated), mmmu (mmmu, generated), shapes (multiple_choice, generated), "
            "vizwiz (vqa, generated), "
            "yes_no (yes_no, generated); "
            "greedy generation of at most 6 new tokens, 8 items at a time") in plan
    sets = ("stage2.epochs=1", "stage2.save_model=false")
    one = run(acsweep, job, "job.output=gen1", *sets)
    assert re.search(r"clip: vizwiz [\d.]+ \(generated\)", one.stderr)
    assert re.search(r"clip: vizwiz 6/6 items \(generated\), [\d.]+ items/s, ETA 0 s", one.stderr)
    assert ("answers: mmbench generated, mmmu generated, shapes generated, vizwiz generated, yes_no generated "
            "(greedy, at most 6") in one.stdout
    run(acsweep, job, "job.output=gen3", "layout.groups=1", "layout.group_size=2", *sets, ranks=3)
    files = {}
    for out in ("gen1", "gen3"):
        found = sorted((world / out / "predictions").glob("*/clip/*.jsonl"))
        assert [p.name for p in found] == ["mmbench.jsonl", "mmmu.jsonl", "shapes.jsonl", "vizwiz.jsonl",
                                           "yes_no.jsonl"]
        files[out] = {p.name: [json.loads(line) for line in p.read_text().splitlines()] for p in found}
    assert files["gen1"] == files["gen3"]
    vizwiz = files["gen1"]["vizwiz.jsonl"]
    assert [p["id"] for p in vizwiz] == [f"VizWiz_val_{i:08d}.jpg" for i in range(36, 42)]
    assert all(isinstance(p["prediction"], str) and p["answer"] is None for p in vizwiz)
    assert all(p["answer"] in ("A", "B", None) for p in files["gen1"]["shapes.jsonl"])
    assert len(files["gen1"]["mmbench.jsonl"]) == 12  # six questions and their circular copies, images from the TSV
    mmmu = files["gen1"]["mmmu.jsonl"]  # two images, one, none: each question asked
    assert len(mmmu) == 6 and [p["answer"] is None for p in mmmu] == [False, True, True] * 2
    predictions = next((world / "gen1" / "predictions").glob("*/clip"))
    with segment(world / "gen1", 1) as a, segment(world / "gen3", 1) as b:
        np.testing.assert_array_equal(a["tasks/per_sample/vizwiz_correct"][2], [p["correct"] for p in vizwiz])
        assert [x.decode() for x in a["finetune/benchmark_answers"][()]] == ["generated"] * 5
        assert [x.decode() for x in a["finetune/benchmark_kind"][()]] == ["mmbench", "mmmu", "multiple_choice", "vqa",
                                                                         "yes_no"]
        for name, spec in (("shapes", "multiple_choice:world/shapes.jsonl"), ("yes_no", "yes_no:world/yes_no.jsonl"),
                           ("vizwiz", "vqa:world/vizwiz/Annotations/val.json"), ("mmbench", "mmbench:world/mmbench.tsv"),
                           ("mmmu", "mmmu:world/mmmu/mmmu_validation.jsonl")):
            np.testing.assert_array_equal(a["finetune/" + name][()], b["finetune/" + name][()])
            kind, path = spec.split(":")
            rescored = json.loads(acsweep("score", f"{kind}:{world / path}", predictions / f"{name}.jsonl",
                                          "--json").stdout)
            assert rescored["score"] == pytest.approx(a["finetune/" + name][0], abs=1e-9)


def test_stage2_trains_llava_665k_items_as_llava_does(acsweep, world):
    """LLaVA-665K's kinds of items in Stage 2: text-only conversations (trained, no visual tokens),
    "<image>" after the question (moved first), one showing two images (left out and counted). The
    plan counts the steps Stage 2 takes, and every step's loss is kept in the results."""
    captions = json.loads((world / "world" / "captions.json").read_text())
    mixed = captions + [{"id": f"chat{i}", "conversations": [
        {"from": "human", "value": f"say the word {i}"}, {"from": "gpt", "value": "red square disc"}]} for i in range(9)]
    mixed.append({"id": "late", "image": captions[0]["image"], "conversations": [
        {"from": "human", "value": "What is in it?\n<image>"}, {"from": "gpt", "value": "a shape"}]})
    mixed.append({"id": "twice", "image": captions[0]["image"], "conversations": [
        {"from": "human", "value": "<image>"}, {"from": "gpt", "value": "a"},
        {"from": "human", "value": "<image> again"}, {"from": "gpt", "value": "b"}]})
    (world / "world" / "mixed.json").write_text(json.dumps(mixed))
    job = write_job(world, FINETUNE.replace("data = world/captions.json\nimages = world/images\nlr = 1e-3",
                                            "data = world/mixed.json\nimages = world/images\nlr = 1e-3"), "mixed.ini")
    trained = len(captions) + 9 + 1  # the two-image item left out
    steps = -(-trained // 8) * 2
    assert f"Stage 2 ({steps} steps of 8)" in acsweep("run", job, "--dry-run").stdout
    run(acsweep, job, "job.output=mixed", "stage2.save_model=false")
    with segment(world / "mixed", 1) as f:
        loss = f["tasks/per_sample/stage2_loss"][-1]
        assert np.isfinite(loss).sum() == steps and np.all(np.isfinite(loss[:steps]))


def test_known_lmms_eval_results_for_open_ended_benchmarks_enter_a_job(acsweep, world):
    """The paper's open-ended benchmarks are [benchmarks] like any other now, so lmms-eval results
    for them come in through [known] (the README's okvqa example was refused before)."""
    job = write_job(world, FINETUNE.replace("yes_no = yes_no:world/yes_no.jsonl",
                                            "yes_no = yes_no:world/yes_no.jsonl\nvizwiz = vqa:world/vizwiz/Annotations/val.json")
                    .replace("settings = clip\n", "settings = clip, dino\n"), "known_vqa.ini")
    (world / "lmms_dino.json").write_text(json.dumps({"results": {
        "vizwiz_vqa_val": {"exact_match,none": 0.4321}, "mmbench_en_dev": {"gpt_eval_score,none": 55.0},
        "mme": {"mme_percetion_score,none": 1200.0}}}))
    plan = acsweep("run", job, "--dry-run", "--set", "known.lmms_eval=dino:lmms_dino.json", "--set",
                   "known.lmms_eval_metrics=vizwiz:vizwiz_vqa_val/exact_match,none*100; "
                   "shapes:mmbench_en_dev/gpt_eval_score,none; yes_no:mme/mme_percetion_score,none").stdout
    assert "known: 1 settings' benchmark results given ([known]): they count as finetuned" in plan


def test_a_diverging_finetune_fails_its_task_naming_the_setting_and_the_step(acsweep, world):
    # A learning rate far too large: the first step's update overflows the weights and the loss is
    # NaN at the second step. The finetune fails there on both ranks of its group (no hang), the
    # run says so and exits non-zero (3: some tasks failed), and no benchmark score is written.
    job = write_job(world, FINETUNE, "finetune.ini")
    done = acsweep("run", job, "--set", "job.output=diverged", "--set", "stage2.lr=1e30", "--set",
                   "stage2.warmup_ratio=0", "--set", "layout.groups=1", "--set", "layout.group_size=2",
                   ranks=3, check=False)
    assert done.returncode != 0, done.stderr
    # Not tried again: the same data, seed and rate diverge the same way.
    assert re.search(r"task clip \(finetune\) failed on rank \d after 1 attempt\(s\): Stage 2: the loss of step 2 of "
                     r"12 is (NaN|infinite): the training diverged", done.stderr), done.stderr
    assert "1 task(s) failed" in done.stderr
    with segment(world / "diverged", 1) as f:
        kinds = [k.decode() for k in f["tasks/kind"][()]]
        assert f["tasks/status"][()][kinds.index("finetune")] == 2  # failed (store/run_store.hpp)
        assert "finetune" not in f or not np.any(np.isfinite(f["finetune/shapes"][()]))


def test_a_diverging_stage1_fails_its_score_naming_the_setting_and_the_step(acsweep, world):
    # The projector's training diverges: the setting's score task fails naming Stage 1 and the step,
    # and no A is written for it (never a silent NaN in the results).
    job = write_job(world, JOB.replace("references = clip\n", ""), "diverge1.ini")
    done = acsweep("run", job, "--set", "job.output=diverged1", "--set", "stage1.lr=1e30", "--set",
                   "search.settings=clip", check=False)
    assert done.returncode != 0, done.stderr
    assert re.search(r"task clip failed on rank 0 after 1 attempt\(s\): Stage 1: the loss of step \d+ of \d+ is "
                     r"(NaN|infinite): the training diverged", done.stderr), done.stderr
    with segment(world / "diverged1", 1) as f:
        assert list(f["tasks/status"][()]) == [2]  # failed
        assert "scores" not in f or not np.any(np.isfinite(f["scores/A"][()]))
        assert not np.any(np.isfinite(f["tasks/per_sample/A"][()]))


@pytest.mark.parametrize("shard,ranks,victim", [
    ("none", None, "checkpoint-8.tmp-"),  # one rank: its weights and moments
    ("parameters", 3, "checkpoint-8.tmp-sharded/shard-1-of-2"),  # one rank of a group of two
])
def test_killed_writing_a_checkpoint_resumes_from_the_newest_complete_one(acsweep, world, shard, ranks, victim):
    """kill -9 in the middle of a checkpoint's write (LD_PRELOAD kill_during_write: the file is cut
    after 1000 bytes): the rerun resumes from the checkpoint before and ends as an uninterrupted run."""
    job = write_job(world, FINETUNE, "finetune.ini")
    sets = [f"stage2.shard={shard}"] + (["layout.groups=1", "layout.group_size=2"] if ranks else [])
    name = f"killed-{shard}"
    run(acsweep, job, f"job.output={name}-whole", *sets, ranks=ranks)
    cmd = [os.environ["ACSWEEP_BIN"], "run", str(job)]
    if ranks:
        cmd = [os.environ["ACSWEEP_MPIEXEC"], os.environ["ACSWEEP_MPIEXEC_NUMPROC_FLAG"], str(ranks),
               "--oversubscribe", *cmd]
    for s in [f"job.output={name}", *sets]:
        cmd += ["--set", s]
    env = dict(os.environ, LD_PRELOAD=os.environ["ACSWEEP_KILL_DURING_WRITE"], ACSWEEP_KILL_WRITING=victim,
               ACSWEEP_KILL_AFTER="1000")
    killed = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode != 0, killed.stderr
    stage2 = world / name / "stage2"
    cut = [p for p in stage2.glob("*/checkpoint-8.tmp-*/*") if victim.split("/")[-1] in str(p) or not ranks]
    assert cut and min(p.stat().st_size for p in cut) <= 1000, list(stage2.glob("*/*/*"))
    assert not list(stage2.glob("*/checkpoint-8/DONE")) and list(stage2.glob("*/checkpoint-4/DONE"))

    again = run(acsweep, job, f"job.output={name}", *sets, ranks=ranks)
    assert "resumed from the checkpoint of step 4" in again.stderr, again.stderr
    assert not list(stage2.glob("*/checkpoint-8.tmp-*"))  # the cut folder was replaced
    newest = sorted((world / name / "segments").glob("segment-*.h5"))[-1]
    with segment(world / f"{name}-whole", 1) as a, h5py.File(newest, "r") as b:
        np.testing.assert_array_equal(a["tasks/per_sample/stage2_loss"][()], b["tasks/per_sample/stage2_loss"][()])
        for benchmark in ("shapes", "yes_no"):
            np.testing.assert_array_equal(a["finetune/" + benchmark][()], b["finetune/" + benchmark][()])


def test_an_image_that_does_not_decode_leaves_its_caption_or_pair_out(acsweep, tmp_path):
    """A damaged held-out image and a damaged SPair image: the setting is scored on the rest, the two
    are named on stderr, counted in the row, and NaN in their places; nothing else changes."""
    subprocess.run([sys.executable, WORLD, str(tmp_path / "world"), "2"], check=True)
    job = write_job(tmp_path, JOB.replace("settings = clip; dino; clip+dino", "settings = clip").replace(
        "references = clip\n", ""))
    run(acsweep, job, "job.output=whole")
    with segment(tmp_path / "whole", 1) as f:
        held_out = [x.decode() for x in f["scores/manifest"][()]]
        pairs = [x.decode() for x in f["scores/pair"][()]]
        whole_a, whole_pairs = f["tasks/per_sample/A"][0], f["tasks/per_sample/C_per_pair"][0]
    caption = tmp_path / "world" / "images" / f"{held_out[3][3:]}.jpg"
    pair = next(i for i, name in enumerate(pairs) if "0002" in name)
    spair_image = next((tmp_path / "world" / "spair" / "JPEGImages").glob("*/02_trg.jpg"))
    for damaged in (caption, spair_image):
        damaged.write_bytes(b"\xff\xd8\xff\xe0 the rest of this JPEG is lost")

    done = run(acsweep, job, "job.output=damaged")
    for damaged in (caption, spair_image):
        assert f"clip: left out: {damaged}: cannot decode image" in done.stderr, done.stderr
    with segment(tmp_path / "damaged", 1) as f:
        s, per = f["scores"], f["tasks/per_sample"]
        assert s["A_left_out"][0] == 1 and s["C_left_out"][0] == 1
        a, per_pair = per["A"][0], per["C_per_pair"][0]
        assert np.isnan(a[3]) and np.isnan(per_pair[pair])
        np.testing.assert_allclose(np.delete(a, 3), np.delete(whole_a, 3), rtol=1e-5)
        np.testing.assert_array_equal(np.delete(per_pair, pair), np.delete(whole_pairs, pair))
        assert s["A"][0] == pytest.approx(np.nanmean(a), rel=1e-12)
        assert s["C"][0] == pytest.approx(100 * np.nanmean(per["C_correct"][0]), rel=1e-12)
        assert np.isnan(per["C_correct"][0]).sum() == int(f["scores/pair_keypoints"][pair])

    # A damaged image among the training captions (Stage 1, and Stage 2's conversations): its
    # caption is left out of the loss, named, and the finetune and its benchmarks complete.
    trained_on = next(i for i in range(36) if f"cap{i:03d}" not in held_out)
    training_image = tmp_path / "world" / "images" / f"{trained_on:03d}.jpg"
    training_image.write_bytes(b"\xff\xd8\xff\xe0 the rest of this JPEG is lost")
    # and a benchmark image (images 36..47: one shapes item, two yes/no items each): not asked
    asked_about = tmp_path / "world" / "images" / "040.jpg"
    asked_about.write_bytes(b"\xff\xd8\xff\xe0 the rest of this JPEG is lost")
    finetune = write_job(tmp_path, FINETUNE, "finetune.ini")
    # One bad image of 40 captions is more than [job] max_bad_fraction's default 1% allows: the
    # task fails, saying so; at 10% (Stage 2 trains on all 48 images, three of them damaged here)
    # the run completes without them.
    refused = acsweep("run", finetune, "--set", "job.output=too_damaged", "--set", "job.max_attempts=1", check=False)
    assert refused.returncode == 3, refused.stderr
    assert ("Stage 1: 1 training images do not decode, more than [job] max_bad_fraction 0.01 of 40 examples "
            f"allows (0); this rank's first: {training_image}: cannot decode") in refused.stderr
    done = run(acsweep, finetune, "job.output=damaged_training", "job.max_bad_fraction=0.1")
    for stage, what in (("stage 1", "caption"), ("stage 2", "answer")):
        assert f"clip: {stage} left out (its {what} out of the loss): {training_image}: cannot decode" in done.stderr
    for benchmark in ("shapes", "yes_no"):
        assert f"clip: {benchmark} left out: {asked_about}: cannot decode" in done.stderr
    with segment(tmp_path / "damaged_training", 1) as f:
        assert np.all(np.isfinite(f["finetune/shapes"][()])) and np.all(np.isfinite(f["tasks/per_sample/stage2_loss"][-1]))
        shapes, yes_no = f["tasks/per_sample/shapes_correct"][-1], f["tasks/per_sample/yes_no_correct"][-1]
        assert np.isnan(shapes).sum() == 1 and np.isnan(yes_no).sum() == 2
        assert f["finetune/shapes"][0] == pytest.approx(100 * np.nanmean(shapes))


def test_only_the_planning_rank_looks_for_missing_images_and_every_rank_leaves_them_out(acsweep, world):
    # Two captions whose images are not there: rank 0 finds them while planning, and the other
    # ranks take its list, so the two runs hold the same numbers and the summary names them once.
    captions = json.loads((world / "world" / "captions.json").read_text())
    extra = [dict(captions[0], id=f"gone{i}", image=f"gone{i}.jpg") for i in range(2)]
    (world / "world" / "captions_gone.json").write_text(json.dumps(captions[:5] + extra + captions[5:]))
    job = write_job(world, JOB.replace("captions.json", "captions_gone.json").replace(
        "settings = clip; dino; clip+dino", "settings = clip"), name="gone.ini")
    one = run(acsweep, job, "job.output=gone1")
    three = run(acsweep, job, "job.output=gone3", ranks=3)
    for done in (one, three):
        for i in range(2):
            named = [line for line in done.stderr.splitlines() if f"gone{i}.jpg is missing" in line]
            assert len(named) == 1, done.stderr
            assert f"item {5 + i} (id gone{i})" in named[0]
    with segment(world / "gone1", 1) as a, segment(world / "gone3", 1) as b:
        assert a["scores"]["stage1_captions"][()][0] == 40
        np.testing.assert_array_equal(a["tasks/values"][()], b["tasks/values"][()])


def test_sequential_policy_picks_round_by_round_with_its_reasons(acsweep, world):
    # Three settings, a budget of 2: region-based sampling draws the first (nothing is measured
    # yet), the fit to its finetune picks the second. One worker group, so one pick per round; the
    # same picks on one rank and on a coordinator with a group of two.
    job = write_job(world, FINETUNE.replace("settings = clip; dino\n", "settings = clip; dino; clip+dino\n").replace(
        "[finetune]\nsettings = clip\n", "[finetune]\nsettings = policy\n").replace("epochs = 2\ncheckpoint_every = 4\n",
                                                                                  "epochs = 1\n"),
                    "sequential.ini")
    sets = ["job.budget=2", "job.sampler=sequential"]
    one = run(acsweep, job, "job.output=seq1", *sets)
    assert "sequential policy's first round (region-based sampling) picked 1 of 3 settings" in one.stderr
    assert re.search(r"sequential policy, round 2: \S+ \(expected improvement [0-9.]+; best in \d+% of the "
                     r"posterior draws; predicted", one.stderr)
    assert "phase finetune round 2: 1 tasks" in one.stderr
    three = run(acsweep, job, "job.output=seq3", "layout.groups=1", "layout.group_size=2", *sets, ranks=3)
    picks = []
    for out in ("seq1", "seq3"):
        with h5py.File(sorted((world / out / "segments").glob("segment-*.h5"))[-1], "r") as f:
            p = f["policy"]
            assert p.attrs["sampler"] in ("sequential", b"sequential")
            np.testing.assert_array_equal(p["pick_round"][()], [1, 2])
            chance = p["pick_chance"][()]
            assert np.isnan(chance[0]) and 0 <= chance[1] <= 1
            gain = p["pick_gain"][()]
            assert np.isnan(gain[0]) and gain[1] >= 0
            assert np.isnan(p["pick_sd"][()][0]) and p["pick_sd"][()][1] > 0
            sampled = [s.decode() for s in p["sampled"][()]]
            assert len(set(sampled)) == 2 and sorted(s.decode() for s in f["finetune/setting"][()]) == sorted(sampled)
            picks.append(sampled)
    assert picks[0] == picks[1]
    assert three.returncode == 0

    # Validation finetunes every setting at once; the rounds are then drawn from those results, and
    # they pick what the sweep picked round by round.
    run(acsweep, job, "job.output=seqv", "job.validate=true", *sets)
    with h5py.File(sorted((world / "seqv" / "segments").glob("segment-*.h5"))[-1], "r") as f:
        np.testing.assert_array_equal(f["policy/pick_round"][()], [1, 2])
        assert [s.decode() for s in f["policy/sampled"][()]] == picks[0]
        assert len(f["finetune/setting"][()]) == 3

    random = run(acsweep, job, "job.output=rnd1", "job.budget=2", "job.sampler=random")
    assert "random selection picked 2 of 3 settings" in random.stderr
    bad = acsweep("run", job, "--dry-run", "--set", "job.budget=2", "--set", "job.sampler=greedy", check=False)
    assert bad.returncode == 2 and "[job] sampler: must be region, sequential or random, not 'greedy'" in bad.stderr
