"""acsweep run with diffusion settings: a tiny Stable-Diffusion-like pipeline, a tiny DiT and a tiny SD3, built by
diffusers from configs and saved as the hub ships them, scored (A and C) on the tiny world beside a
tower and in a combination with it. The numbers are the same at 1 and 2 ranks (each image's noise
comes from the job's seed and its pixels, not from the rank that draws it), and a setting's own
input side gives other features."""

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "golden"))
WORLD = os.path.join(HERE, "..", "fixtures", "tiny_world.py")

JOB = """[job]
name = tiny-diffusion
output = out
seed = 5

[llm]
folder = world/llm

[encoders]
clip = world/encoders/clip
sd = sd
dit = dit
sd3 = sd3

[search]
settings = sd; dit@48; clip+sd; sd@48; sd3@48

[stage1]
data = world/captions.json
images = world/images
lr = 3e-3
global_batch = 8
micro_batch = 4
epochs = 1

[a_score]
n = 8
batch = 4

[c_score]
root = world/spair
# the tiny models' grids are coarse (4 x 4 cells of the world's 48 x 40 images at their own side)
alpha = 0.5
"""


def pipelines(folder):
    """The tiny SD1.5-like pipeline, DiT and SD3 of the golden tests, saved under FOLDER/sd, dit and sd3."""
    import diffusers as df
    import torch
    import diffusion_golden as golden

    torch.manual_seed(3)
    sd = folder / "sd"
    tokenizer = golden.write_tokenizer(str(sd / "tokenizer"), "<|endoftext|>", 16)
    df.StableDiffusionPipeline(vae=golden.vae(0.18215), text_encoder=golden.text_encoder(16), tokenizer=tokenizer,
                               unet=golden.sd_unet(cross_attention_dim=16), scheduler=golden.scheduler(),
                               safety_checker=None, feature_extractor=None,
                               requires_safety_checker=False).save_pretrained(str(sd), safe_serialization=True)
    golden.write_tokenizer(str(sd / "tokenizer"), "<|endoftext|>", 16)
    transformer = golden.perturb(df.DiTTransformer2DModel(
        num_attention_heads=2, attention_head_dim=8, in_channels=4, out_channels=8, num_layers=2, sample_size=16,
        patch_size=2, num_embeds_ada_norm=10))
    df.DiTPipeline(transformer=transformer, vae=golden.vae(0.18215), scheduler=golden.scheduler()).save_pretrained(
        str(folder / "dit"), safe_serialization=True)
    golden.save_sd3(golden.sd3_pipeline(str(folder / "sd3")), str(folder / "sd3"))


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diffusion")
    subprocess.run([sys.executable, WORLD, str(folder / "world"), "2"], check=True)
    pipelines(folder)
    (folder / "job.ini").write_text(JOB)
    return folder


def scores(out_dir):
    with h5py.File(out_dir / "segments" / "segment-0001.h5", "r") as f:
        assert f.attrs["complete"] == 1
        s = f["scores"]
        return ([x.decode() for x in s["setting"][()]], s["A"][()], s["C"][()],
                f["tasks/per_sample/C_correct"][()])


def test_diffusion_settings_are_scored_alike_at_one_and_two_ranks(acsweep, world):
    job = world / "job.ini"
    plan = acsweep("run", job, "--dry-run").stdout
    assert "scoring: 5 settings" in plan
    acsweep("run", job, "--set", "job.output=one")
    acsweep("run", job, "--set", "job.output=two", ranks=2)
    names, a, c, correct = scores(world / "one")
    assert names == ["sd", "dit@48", "clip+sd", "sd@48", "sd3@48"]
    assert np.all(np.isfinite(a)) and np.all(a < 0)
    assert np.all((c >= 0) & (c <= 100)) and correct.sum() > 0
    _, a2, c2, correct2 = scores(world / "two")
    np.testing.assert_array_equal(a, a2)
    np.testing.assert_array_equal(correct, correct2)
    # The side changes the features: sd at 16 px (its own) and at 48 px are not the same setting.
    assert a[0] != a[3]
