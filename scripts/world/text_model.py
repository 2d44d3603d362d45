"""The world's language model: a SentencePiece tokenizer and a small Llama trained on the world's
text (captions, and the instructions rendered as acsweep's vicuna_v1 template renders them),
written as a Hugging Face folder: config.json, model.safetensors, tokenizer.model. Training runs
on one CPU thread with a fixed seed, so the same seed gives the same weights.

Where the image goes, most training texts hold instead a description of the scene: its words
(size, colour, shape, place) in random order among filler words (scene.describe). A large LLM
arrives knowing how to use what its context says; a small one trained only on captions would
learn their priors and nothing about reading context, and no projector could then align an
image with it. Trained this way it answers from whatever the context holds, and Stage 1 has
something to align the visual tokens with: how well a setting's projected features can stand in
for those words is what its A score measures. The rest of the texts keep no description, so the
priors are learned too."""

from __future__ import annotations

import io
import json
import math
import os

import numpy as np
import sentencepiece as spm
import torch

from .scene import FILLERS, describe
from .weights import write_safetensors

SYSTEM = ("A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
          "detailed, and polite answers to the user's questions.")
EOS = "</s>"


def vicuna_chunks(turns: list):
    """The text around the image, as src/data/llava.cpp's vicuna_v1_template writes it and the
    tokenizer chunks it (the image splits the text), and the answers' character spans in the
    text after the image (each " answer</s>", as the template marks them trainable)."""
    text, spans = SYSTEM + " ", []
    for turn in turns:
        if turn["from"] == "human":
            text += "USER: " + turn["value"] + " ASSISTANT:"
        else:
            spans.append((len(text), len(text) + len(turn["value"]) + 1 + len(EOS)))
            text += " " + turn["value"] + EOS
    before, after = text.split("<image>")
    shift = len(before) + len("<image>")
    return before, after, [(s - shift, e - shift) for s, e in spans if s >= shift]


def train_tokenizer(texts: list, path: str, vocab_size: int) -> spm.SentencePieceProcessor:
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model, vocab_size=vocab_size,
                                   model_type="bpe", character_coverage=1.0, byte_fallback=True,
                                   normalization_rule_name="identity", remove_extra_whitespaces=False,
                                   add_dummy_prefix=True, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                                   user_defined_symbols=[], hard_vocab_limit=False, minloglevel=2, num_threads=1,
                                   seed_sentencepiece_size=100000, shuffle_input_sentence=False)
    with open(path, "wb") as f:
        f.write(model.getvalue())
    return spm.SentencePieceProcessor(model_file=path)


def encode_chunk(sp, text: str, spans=(), weight=1.0):
    """A text chunk as the C++ tokenizer encodes it ("</s>" is the end-of-sequence token), with a
    loss weight per token: `weight` for tokens inside `spans` (character ranges), else 1."""
    ids, weights, offset = [], [], 0
    inside = lambda begin, end: any(s <= begin < e or (begin < s < end) for s, e in spans)
    parts = text.split(EOS)
    for i, part in enumerate(parts):
        if part:
            for piece in sp.encode(part, return_type="proto").pieces:
                ids.append(piece.id)
                weights.append(weight if inside(offset + piece.begin, offset + max(piece.end, piece.begin + 1)) else 1.0)
        if i + 1 < len(parts):
            ids.append(sp.eos_id())
            weights.append(weight if inside(offset + len(part), offset + len(part) + len(EOS)) else 1.0)
        offset += len(part) + len(EOS)
    return ids, weights


class Llama(torch.nn.Module):
    """Hugging Face's LlamaForCausalLM in miniature: RMSNorm, rotary embedding on (j, j + d/2)
    pairs, SwiGLU, causal attention, untied head."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        D, I, V, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
        self.embed = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList()
        for _ in range(L):
            layer = torch.nn.ModuleDict({
                "q": torch.nn.Linear(D, D, bias=False), "k": torch.nn.Linear(D, D, bias=False),
                "v": torch.nn.Linear(D, D, bias=False), "o": torch.nn.Linear(D, D, bias=False),
                "gate": torch.nn.Linear(D, I, bias=False), "up": torch.nn.Linear(D, I, bias=False),
                "down": torch.nn.Linear(I, D, bias=False)})
            layer.ln1 = torch.nn.Parameter(torch.ones(D))
            layer.ln2 = torch.nn.Parameter(torch.ones(D))
            self.layers.append(layer)
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.head = torch.nn.Linear(D, V, bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)
        for layer in self.layers:  # residual branches start small (GPT-2's scaled init)
            torch.nn.init.normal_(layer["o"].weight, std=0.02 / math.sqrt(2 * L))
            torch.nn.init.normal_(layer["down"].weight, std=0.02 / math.sqrt(2 * L))

    def rms(self, x, w):
        return w * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.cfg["rms_norm_eps"])

    def forward(self, ids):
        cfg = self.cfg
        H = cfg["num_attention_heads"]
        B, T = ids.shape
        d = cfg["hidden_size"] // H
        inv = cfg["rope_theta"] ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)
        angles = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
        cos, sin = torch.cat([angles.cos()] * 2, -1), torch.cat([angles.sin()] * 2, -1)

        def rope(x):
            half = torch.cat([-x[..., d // 2:], x[..., : d // 2]], -1)
            return x * cos + half * sin

        x = self.embed(ids)
        mask = torch.full((T, T), float("-inf")).triu(1)
        for layer in self.layers:
            h = self.rms(x, layer.ln1)
            q, k, v = (layer[n](h).view(B, T, H, d).transpose(1, 2) for n in "qkv")
            att = (rope(q) @ rope(k).transpose(-1, -2)) / math.sqrt(d) + mask
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
            x = x + layer["o"](y)
            h = self.rms(x, layer.ln2)
            x = x + layer["down"](torch.nn.functional.silu(layer["gate"](h)) * layer["up"](h))
        return self.head(self.rms(x, self.norm))

    def hf_weights(self) -> dict:
        w = {"model.embed_tokens.weight": self.embed.weight, "model.norm.weight": self.norm,
             "lm_head.weight": self.head.weight}
        names = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.o_proj",
                 "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj"}
        for i, layer in enumerate(self.layers):
            p = f"model.layers.{i}."
            for key, name in names.items():
                w[p + name + ".weight"] = layer[key].weight
            w[p + "input_layernorm.weight"] = layer.ln1
            w[p + "post_attention_layernorm.weight"] = layer.ln2
        return {k: v.detach().numpy().astype(np.float32) for k, v in w.items()}


def build_llm(folder: str, texts: dict, seed: int, size: dict, log=print) -> dict:
    """Tokenizer and LLM into folder; returns what training measured."""
    os.makedirs(folder, exist_ok=True)
    corpus = list(texts["captions"]) + [" ".join(FILLERS)]
    for turns in texts["conversations"]:
        corpus += [t["value"].replace("<image>\n", "") for t in turns]
    corpus.append(SYSTEM)
    sp = train_tokenizer(corpus, os.path.join(folder, "tokenizer.model"), size["vocab"])

    rng = np.random.default_rng(seed)
    context = lambda scene: (sp.encode(describe(scene, rng)) if rng.random() < size["context_share"] else [])
    sequences = []  # (ids, loss weight of predicting each id)
    for caption, turns, scene in zip(texts["captions"], texts["conversations"], texts["scenes"]):
        # the caption several times over, each with another description: short texts that teach
        # reading the context cheaply
        for _ in range(size["caption_copies"]):
            ids = [sp.bos_id()] + context(scene) + sp.encode(caption + "\n")
            sequences.append((ids, [1.0] * len(ids)))
        # a conversation: its answers weigh more (they are few among the template's tokens)
        before, after, spans = vicuna_chunks(turns)
        if rng.random() < size["drop_system"]:  # the long system prompt costs steps and teaches little
            before = before[len(SYSTEM) + 1:]
        head, _ = encode_chunk(sp, before)
        middle = context(scene)
        tail, tail_weights = encode_chunk(sp, after, spans, size["answer_weight"])
        ids = [sp.bos_id()] + head + middle + tail
        sequences.append((ids, [1.0] * (1 + len(head) + len(middle)) + tail_weights))
    cfg = dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=sp.get_piece_size(),
               hidden_size=size["hidden"], intermediate_size=size["intermediate"], num_hidden_layers=size["layers"],
               num_attention_heads=size["heads"], num_key_value_heads=size["heads"], rms_norm_eps=1e-5,
               rope_theta=10000.0, tie_word_embeddings=False, max_position_embeddings=1024, torch_dtype="float32",
               bos_token_id=1, eos_token_id=2, hidden_act="silu")
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    torch.set_flush_denormal(True)  # softmax under the causal mask makes subnormals, 10x slower on x86
    model = Llama(cfg)
    order = np.random.default_rng([seed, 1])
    held_out = sequences[: max(8, len(sequences) // 50)]
    train = sequences[len(held_out):]
    steps, batch = size["llm_steps"], size["llm_batch"]
    opt = torch.optim.AdamW(model.parameters(), lr=size["llm_lr"], weight_decay=0.0, betas=(0.9, 0.95))
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 20) * 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)))

    def batch_loss(items):
        T = max(len(s) for s, _ in items)
        ids = torch.zeros(len(items), T, dtype=torch.long)
        mask = torch.zeros(len(items), T - 1)
        for i, (s, w) in enumerate(items):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s) - 1] = torch.tensor(w[1:])
        logits = model(ids)[:, :-1]
        nll = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1),
                                                reduction="none").view(mask.shape)
        return (nll * mask).sum() / mask.sum()

    first = None
    for step in range(steps):
        picks = order.choice(len(train), batch, replace=False)
        loss = batch_loss([train[i] for i in picks])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        first = first if first is not None else float(loss)
        if (step + 1) % max(1, steps // 5) == 0:
            log(f"world: llm step {step + 1}/{steps}, loss {float(loss):.3f}")
    with torch.no_grad():
        held = float(batch_loss(held_out))
    write_safetensors(os.path.join(folder, "model.safetensors"), model.hf_weights())
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    return {"vocab": sp.get_piece_size(), "first_loss": first, "held_out_loss": held, "steps": steps}
