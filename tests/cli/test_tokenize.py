"""acsweep tokenize: the ids and pieces of each text as the model's tokenizer gives them, checked
against sentencepiece (the reference implementation of tokenizer.model; transformers 5 converts a
bare tokenizer.model to its own BPE, which already differs from it on leading spaces) on a
tokenizer trained here;
tokenizer_config.json's add_bos_token and add_eos_token; LLaVA's templates with the image's place
as -200, where LLaVA's tokenizer_image_token puts it; a tokenizer.json (byte-level BPE, Qwen2's
kind) against the tokenizers library and transformers' chat template; clear errors."""

import json
import os
import subprocess
import sys

import pytest
import sentencepiece as spm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from tiny_world import sentencepiece_model  # noqa: E402

TEXTS = ["a red square on the left", "  two leading spaces", "line one\nline two", "naïve café — 東京",
         "<s> is not a control token in text", ""]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("tokenizer")
    corpus = ["a red square on the left", "a blue disc on the right", "what shape is it", "the answer is"] * 20
    (root / "tokenizer.model").write_bytes(sentencepiece_model(corpus, vocab_size=320))
    return root


@pytest.fixture(scope="module")
def qwen_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("qwen_tokenizer")
    models = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models")
    subprocess.run([sys.executable, os.path.join(models, "bpe_reference.py"), str(root), "qwen2", "10"], check=True)
    return root


def tokenize(acsweep, *args, check=True):
    return acsweep("tokenize", *[str(a) for a in args], check=check)


def test_ids_and_pieces_equal_sentencepiece(acsweep, folder):
    sp = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    got = json.loads(tokenize(acsweep, folder, "--json", *TEXTS).stdout)
    assert [g["text"] for g in got] == TEXTS
    for g, text in zip(got, TEXTS):
        want = [sp.bos_id()] + sp.encode(text)
        assert g["ids"] == want, text
        assert g["pieces"] == [sp.id_to_piece(i) for i in want], text

    plain = tokenize(acsweep, folder / "tokenizer.model", "a red square").stdout.splitlines()
    ids = [sp.bos_id()] + sp.encode("a red square")
    assert plain[0] == 'text: "a red square"'
    assert plain[1] == "ids: " + " ".join(map(str, ids))
    assert plain[2] == "pieces: " + " ".join(json.dumps(sp.id_to_piece(i), ensure_ascii=False) for i in ids)


def test_bos_and_eos_as_the_tokenizer_config_says(acsweep, folder, tmp_path):
    sp = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    other = tmp_path / "tok"
    other.mkdir()
    (other / "tokenizer.model").write_bytes((folder / "tokenizer.model").read_bytes())
    (other / "tokenizer_config.json").write_text(json.dumps({"add_bos_token": False, "add_eos_token": True}))
    got = json.loads(tokenize(acsweep, other, "--json", "the answer").stdout)[0]
    assert got["ids"] == sp.encode("the answer") + [sp.eos_id()]
    (other / "tokenizer_config.json").write_text(json.dumps({"add_bos_token": "yes"}))
    bad = tokenize(acsweep, other, "x", check=False)
    assert bad.returncode == 2 and "tokenizer_config.json: key 'add_bos_token' is not true or false" in bad.stderr


def test_templates_put_the_image_where_llava_puts_it(acsweep, folder):
    sp = spm.SentencePieceProcessor(model_file=str(folder / "tokenizer.model"))
    system = ("A chat between a curious user and an artificial intelligence assistant. The assistant gives "
              "helpful, detailed, and polite answers to the user's questions.")
    got = json.loads(tokenize(acsweep, folder, "--template", "vicuna_v1", "--json", "<image>\nwhat shape is it").stdout)[0]
    # LLaVA's tokenizer_image_token: each chunk around <image> encoded on its own, BOS once, -200 between.
    chunks = f"{system} USER: <image>\nwhat shape is it ASSISTANT:".split("<image>")
    assert got["ids"] == [sp.bos_id()] + sp.encode(chunks[0]) + [-200] + sp.encode(chunks[1])
    assert got["pieces"][len(sp.encode(chunks[0])) + 1] == "<image>"
    caption = json.loads(tokenize(acsweep, folder, "--template", "plain", "--json", "a blue disc").stdout)[0]
    assert caption["ids"] == [sp.bos_id(), -200] + sp.encode("a blue disc\n")


def test_tokenizer_json_equals_tokenizers_and_the_chat_template(acsweep, qwen_folder):
    tokenizers = pytest.importorskip("tokenizers")
    tok = tokenizers.Tokenizer.from_file(str(qwen_folder / "tokenizer.json"))
    texts = ["a red square on the left", "  two  spaces\n\nand café — 東京 😀", "<|im_start|>user\nhi<|im_end|>", "12345"]
    got = json.loads(tokenize(acsweep, qwen_folder, "--json", *texts).stdout)
    for g, text in zip(got, texts):
        want = tok.encode(text)
        assert g["ids"] == want.ids, text
        assert g["pieces"] == want.tokens, text
    # qwen_2: ChatML up to where the answer starts, as transformers renders it with the generation
    # prompt; the chunks around <image> encoded on their own, as LLaVA's tokenizer_image_token does.
    from transformers import PreTrainedTokenizerFast
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    from chat_template_reference import TEMPLATE
    hf = PreTrainedTokenizerFast(tokenizer_file=str(qwen_folder / "tokenizer.json"))
    hf.chat_template = TEMPLATE
    question = "<image>\nwhat shape is it"
    rendered = hf.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                      add_generation_prompt=True)
    before, after = rendered.split("<image>")
    chat = json.loads(tokenize(acsweep, qwen_folder, "--template", "qwen_2", "--json", question).stdout)[0]
    assert chat["ids"] == tok.encode(before).ids + [-200] + tok.encode(after).ids
    assert chat["pieces"] == [tok.id_to_token(i) if i >= 0 else "<image>" for i in chat["ids"]]
    assert after.endswith("<|im_start|>assistant\n")


def test_errors_name_what_is_wrong(acsweep, folder, tmp_path):
    (tmp_path / "tokenizer.json").write_text("{}")
    bpe = tokenize(acsweep, tmp_path, "x", check=False)
    assert bpe.returncode == 2
    assert "tokenizer.json: 'model' is missing" in bpe.stderr
    bad = tokenize(acsweep, folder, "--template", "chatml", "x", check=False)
    assert bad.returncode == 2 and "--template must be none, plain, vicuna_v1 or qwen_2, not 'chatml'" in bad.stderr
    none = tokenize(acsweep, folder, check=False)
    assert none.returncode == 2 and "a FOLDER and at least one TEXT" in none.stderr
