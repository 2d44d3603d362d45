#!/usr/bin/env python3
"""Trains a tiny SentencePiece model configured like Llama's (ids unk 0, bos 1, eos 2; identity
normaliser, byte fallback) and prints Python's
encodings of the texts in TEXTS.json (a JSON list) as JSON.   tokenizer_reference.py FOLDER TEXTS.json"""

import io
import json
import os
import sys

import sentencepiece as spm

folder = sys.argv[1]
os.makedirs(folder, exist_ok=True)
corpus = [
    "A chat between a curious user and an artificial intelligence assistant.",
    "The assistant gives helpful, detailed, and polite answers to the user's questions.",
    "USER: What colour is the bus? ASSISTANT: Red.", "USER: Why? ASSISTANT: Paint.",
    "A red bus on a street. A cat on a mat. Two dogs play in the park.",
] * 20
model = io.BytesIO()
spm.SentencePieceTrainer.train(sentence_iterator=iter(corpus), model_writer=model, vocab_size=400,
                               model_type="bpe", character_coverage=1.0, byte_fallback=True,
                               normalization_rule_name="identity", remove_extra_whitespaces=False,
                               split_digits=True, add_dummy_prefix=True,  # as Llama's tokenizer.model
                               unk_id=0, bos_id=1, eos_id=2, pad_id=-1, minloglevel=2, num_threads=1)
with open(os.path.join(folder, "tokenizer.model"), "wb") as f:
    f.write(model.getvalue())
sp = spm.SentencePieceProcessor(model_file=os.path.join(folder, "tokenizer.model"))
with open(sys.argv[2]) as f:
    texts = json.load(f)
print(json.dumps({text: sp.encode(text) for text in texts}))
