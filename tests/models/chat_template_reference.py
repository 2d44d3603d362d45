#!/usr/bin/env python3
"""The qwen_2 (ChatML) conversation template as transformers renders it: FOLDER holds a qwen2
tokenizer.json from bpe_reference.py; the chat template Qwen2 ships (the default system line when
the conversation has none) is given to transformers' apply_chat_template, with {% generation %}
around each answer and its <|im_end|> so that return_assistant_tokens_mask marks the tokens that
carry the loss. Writes FOLDER/chats.json (LLaVA-style conversations) and
FOLDER/chats_expected.json (text, ids and the assistant mask of each).

    chat_template_reference.py FOLDER"""

import os
import sys

from transformers import PreTrainedTokenizerFast

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bpe_reference import write_json  # noqa: E402

TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|im_start|>assistant\\n' }}{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{ '\\n' }}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

CHATS = [
    [["human", "What is this?"], ["gpt", "A red square."]],
    [["human", "Where is the disc?"], ["gpt", "Top left."], ["human", "And its colour, with émoji 😀?"],
     ["gpt", "Blue.\nSecond line, café."]],
    [["human", "Describe it."]],
    [["human", "  spaced   out  "], ["gpt", " a leading space"], ["human", "\n\nnewlines\n"], ["gpt", "1234 56"]],
    [["human", "Say <|endoftext|> please"], ["gpt", "Naïve — ok"]],
]


def main():
    folder = sys.argv[1]
    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(folder, "tokenizer.json"))
    tok.chat_template = TEMPLATE
    expected = []
    for chat in CHATS:
        messages = [{"role": "user" if who == "human" else "assistant", "content": text} for who, text in chat]
        generation = chat[-1][0] == "human"
        text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
        out = tok.apply_chat_template(messages, tokenize=True, return_dict=True, add_generation_prompt=generation,
                                      return_assistant_tokens_mask=True)
        expected.append({"text": text, "ids": list(out["input_ids"]), "mask": list(out["assistant_masks"])})
    write_json(folder, chats=CHATS, chats_expected=expected)


if __name__ == "__main__":
    main()
