#!/usr/bin/env python3
"""Trains a byte-level BPE with the `tokenizers` library (the golden reference for tokenizer.json)
and writes, into FOLDER, the tokenizer.json and tokenizer_config.json as a model folder ships them,
texts.json (varied texts: several scripts, decomposed accents, digits, whitespace runs, emoji, code,
special tokens inside text), and expected.json: for each text, the ids `tokenizers` encodes with its
defaults (post-processor included) and its decoding of them.

    bpe_reference.py FOLDER VARIANT [COUNT]

VARIANT: qwen2 (NFC, Qwen2's split pattern, ChatML special tokens, eos <|im_end|>), llama3 (Llama
3's pattern, ignore_merges, <|begin_of_text|> put in front by TemplateProcessing), gpt2 (ByteLevel's
own regex with add_prefix_space)."""

import json
import os
import random
import sys

from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

WORDS = [
    # The world's captions and conversations.
    "A red square on a blue background.", "What colour is the disc?", "The triangle is small.",
    "USER: Where is the star? ASSISTANT: Top left.", "Is the circle larger than the square?",
    # Latin scripts, precomposed and decomposed (NFC composes the second form).
    "café", "cafe\u0301", "naïve", "nai\u0308ve", "Ångström", "A\u030angstro\u0308m", "Straße", "İstanbul",
    "ısı", "œuvre", "ﬁne", "Ĳssel", "ǅemal",
    # Other scripts.
    "Привет, мир", "Ελληνικά", "مرحبا بالعالم", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก", "你好，世界",
    "東京タワー", "ひらがな", "한국어", "\u1112\u1161\u11ab", "ጤና ይስጥልኝ", "Ꭰꮳ",
    # Digits and numbers.
    "12345", "3.14159", "1,000,000", "2026-12-07", "０１２３", "٣٤٥", "Ⅻ", "½", "x²",
    # Contractions, as the patterns split them, in any case.
    "don't", "I'M", "they'LL", "she'd", "we've", "it's", "You'Re",
    # Emoji: single, with skin tone, ZWJ sequences, flags, keycaps.
    "😀", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷🇩🇪", "1️⃣", "🧑🏿\u200d🚀",
    # Code and punctuation.
    "def f(x):\n    return x**2  # square", '{"a": [1, 2], "b": null}', "for (int i=0;i<n;++i) {}",
    "!!!???", "...", "<<>>", "a->b", "#include <vector>", "\\n\\t", "''", "'s",
    # Special tokens inside text, and near misses.
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|begin_of_text|>", "<|im_", "<|", "|>",
]
SPACES = ["", " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n ", "\u00a0", "\u3000", "\u2003",
          "\u200b", "\u0085", "\u2028", "\f", "\v", "      \n"]


def texts(count, seed):
    rng = random.Random(seed)
    out = ["", " ", "\n", "   ", "a", "hello world", "  leading and trailing  ", "<|im_start|>user\nhi<|im_end|>\n"]
    while len(out) < count:
        parts = []
        for _ in range(rng.randint(1, 10)):
            parts.append(rng.choice(WORDS))
            parts.append(rng.choice(SPACES))
        text = "".join(parts)
        if rng.random() < 0.2:  # a cut: strings that end mid-word or mid-space
            text = text[: rng.randint(0, len(text))]
        out.append(text)
    return out


def write_json(folder, **files):
    """Each keyword as FOLDER/NAME.json."""
    for name, value in files.items():
        with open(os.path.join(folder, name + ".json"), "w") as f:
            json.dump(value, f)


def main():
    folder, variant = sys.argv[1], sys.argv[2]
    count = int(sys.argv[3]) if len(sys.argv) > 3 else 1200
    os.makedirs(folder, exist_ok=True)
    specials = {"qwen2": ["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                "llama3": ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"],
                "gpt2": ["<|endoftext|>"]}[variant]
    tok = Tokenizer(models.BPE(ignore_merges=variant == "llama3"))
    if variant == "qwen2":
        tok.normalizer = normalizers.NFC()
    if variant == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True)
    else:
        pattern = QWEN2_PATTERN if variant == "qwen2" else LLAMA3_PATTERN
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1500, special_tokens=specials, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    corpus = texts(3000, 1) * 2
    tok.train_from_iterator(corpus, trainer)
    if variant == "llama3":
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.TemplateProcessing(
            single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A <|begin_of_text|> $B:1",
            special_tokens=[("<|begin_of_text|>", bos)])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    tok.save(os.path.join(folder, "tokenizer.json"))
    if variant == "gpt2":  # merges as older files (Qwen2's, GPT-2's) write them: "a b"
        with open(os.path.join(folder, "tokenizer.json")) as f:
            doc = json.load(f)
        doc["model"]["merges"] = [" ".join(pair) for pair in doc["model"]["merges"]]
        with open(os.path.join(folder, "tokenizer.json"), "w") as f:
            json.dump(doc, f)
    eos = {"qwen2": "<|im_end|>", "llama3": "<|eot_id|>", "gpt2": "<|endoftext|>"}[variant]
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": eos, "model_max_length": 32768}, f)

    # Encoded as loaded from the file, as transformers loads it.
    tok = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
    cases = texts(count, 2)
    expected = []
    for text in cases:
        ids = tok.encode(text).ids
        expected.append({"ids": ids, "decoded": tok.decode(ids)})
    write_json(folder, texts=cases, expected=expected)


if __name__ == "__main__":
    main()
