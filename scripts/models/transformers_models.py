#!/usr/bin/env python3
"""The seed's transformers, built as a user would: Hugging Face `transformers` models with random
weights from the published configurations (nothing is downloaded from a model hub), exported by
torch.onnx.export, with onnxruntime's outputs on 100 seeded inputs (reference.json).

    scripts/models/transformers.sh                 tiny instances into testdata/models/ (committed)
    scripts/models/transformers.sh --full DIR      full-size instances into DIR (not committed)

gte: a BERT encoder (GTE-small: 12 layers, hidden 384, 12 heads, FFN 1536, sequence 128) whose
output is the attention-masked mean of the last hidden states, as GTE pools its embedding.
Inputs: input_ids [1, S] (int64 token ids) and attention_mask [1, S] (int64, 1 = token,
0 = padding at the end). The tiny instance: 2 layers, hidden 64, 4 heads, FFN 256, a 1,000-token
vocabulary, sequence 16.

t5: T5-small's encoder (6 layers, d_model 512, 8 heads, FFN 2048, relative position buckets,
RMS norm) over input_ids + attention_mask (sequence 32), then one decoder step with
cross-attention (decoder_input_ids [1, 1], the start token): the step's logits. Tiny: 2 + 2
layers, d_model 64, 4 heads, FFN 256, vocabulary 1,000, sequence 16.

whisper: Whisper-tiny's encoder (log-mel 80 x 3000, two Conv1d + GELU, 4 layers, d_model 384,
6 heads) then one decoder step (the start token): the step's logits. Tiny: 2 + 2 layers,
d_model 64, 4 heads, 80 mel bins x 32 frames, vocabulary 1,000.
"""

import argparse
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
import torch
from transformers import (BertConfig, BertModel, T5Config, T5ForConditionalGeneration, WhisperConfig,
                          WhisperForConditionalGeneration)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

GTE_SMALL = dict(vocab_size=30522, hidden_size=384, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=1536, max_position_embeddings=512, seq=128)
GTE_TINY = dict(vocab_size=1000, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                intermediate_size=256, max_position_embeddings=128, seq=16)


class MeanPooled(torch.nn.Module):
    """GTE's embedding: the mean of the last hidden states over the attended tokens."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask):
        h = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        return (h * m).sum(dim=1) / m.sum(dim=1)


def trained_like(model):
    """BERT initialises biases to 0 and LayerNorm to the identity; trained models have neither, so
    both are perturbed (seeded): biases ~ N(0, 0.02), LayerNorm gains ~ 1 + N(0, 0.1)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.add_(0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.add_(0.02 * torch.randn_like(p))


def export(module, args, names, out_names, path, opset=17):
    """torch.onnx.export as a user calls it (fixed shapes), then onnx's checker."""
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, args, path, input_names=names, output_names=out_names,
                          opset_version=opset, dynamo=False, do_constant_folding=True)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    return model


def gte(out, cfg, seed):
    torch.manual_seed(seed)
    seq = cfg["seq"]
    conf = BertConfig(**{k: v for k, v in cfg.items() if k != "seq"}, attn_implementation="eager",
                      hidden_act="gelu", layer_norm_eps=1e-12)
    model = MeanPooled(BertModel(conf, add_pooling_layer=False))
    trained_like(model)
    rng = np.random.default_rng(seed)

    def sample():
        n = int(rng.integers(seq // 2, seq + 1))  # real tokens, then padding
        ids = np.zeros((1, seq), np.int64)
        ids[0, 0] = 101 % cfg["vocab_size"]
        ids[0, 1:n] = rng.integers(1, cfg["vocab_size"], n - 1)
        mask = np.zeros((1, seq), np.int64)
        mask[0, :n] = 1
        return ids, mask

    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "network.onnx")
    ids, mask = sample()
    export(model, (torch.from_numpy(ids), torch.from_numpy(mask)), ["input_ids", "attention_mask"],
           ["embedding"], path)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    samples = [(ids, mask)] + [sample() for _ in range(99)]
    inputs, outs = [], []
    for i, m in samples:
        inputs.append(i.reshape(-1).tolist() + m.reshape(-1).tolist())
        outs.append(sess.run(None, {"input_ids": i, "attention_mask": m})[0].reshape(-1).astype(float).tolist())
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"inputs": inputs, "outputs": [outs]}, f)
    with open(os.path.join(out, "input.json"), "w") as f:
        json.dump({"input_data": [ids.reshape(-1).tolist(), mask.reshape(-1).tolist()]}, f)
    nodes = onnx.load(path).graph.node
    print(f"gte -> {out}: {len(nodes)} nodes, {sum(p.numel() for p in model.parameters())} parameters")


T5_SMALL = dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6, num_decoder_layers=6,
                num_heads=8, seq=32)
T5_TINY = dict(vocab_size=1000, d_model=64, d_kv=16, d_ff=256, num_layers=2, num_decoder_layers=2,
               num_heads=4, seq=16)
WHISPER_TINY = dict(vocab_size=51865, d_model=384, encoder_layers=4, decoder_layers=4,
                    encoder_attention_heads=6, decoder_attention_heads=6, encoder_ffn_dim=1536,
                    decoder_ffn_dim=1536, num_mel_bins=80, max_source_positions=1500,
                    max_target_positions=448)
WHISPER_TINIEST = dict(vocab_size=1000, d_model=64, encoder_layers=2, decoder_layers=2,
                       encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=256,
                       decoder_ffn_dim=256, num_mel_bins=80, max_source_positions=16,
                       max_target_positions=32, bos_token_id=2, eos_token_id=2)


class DecoderStep(torch.nn.Module):
    """An encoder-decoder model's encoder, then one decoder step: the step's logits [1, vocab]."""

    def __init__(self, model, start):
        super().__init__()
        self.model = model
        self.start = start

    def forward(self, *inputs):
        step = torch.full((1, 1), self.start, dtype=torch.int64)
        if len(inputs) == 2:  # T5: token ids and their mask
            out = self.model(input_ids=inputs[0], attention_mask=inputs[1], decoder_input_ids=step)
        else:  # Whisper: log-mel features
            out = self.model(input_features=inputs[0], decoder_input_ids=step)
        return out.logits[:, -1, :]


def write_reference(out, path, names, samples, flat):
    """reference.json (100 inputs, flattened in input order, and onnxruntime's outputs) and
    input.json (the first input)."""
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    inputs, outs = [], []
    for xs in samples:
        inputs.append([v for x in xs for v in flat(x)])
        # 7 significant digits: float32's precision, and a smaller file
        outs.append([float(f"{v:.7g}") for v in sess.run(None, dict(zip(names, xs)))[0].reshape(-1)])
    with open(os.path.join(out, "reference.json"), "w") as f:
        json.dump({"inputs": inputs, "outputs": [outs]}, f)
    with open(os.path.join(out, "input.json"), "w") as f:
        json.dump({"input_data": [flat(x) for x in samples[0]]}, f)


def token_sampler(rng, seq, vocab):
    def sample():
        n = int(rng.integers(seq // 2, seq + 1))  # real tokens, then padding
        ids = np.zeros((1, seq), np.int64)
        ids[0, :n] = rng.integers(1, vocab, n)
        mask = np.zeros((1, seq), np.int64)
        mask[0, :n] = 1
        return ids, mask
    return sample


def t5(out, cfg, seed):
    torch.manual_seed(seed)
    seq = cfg["seq"]
    conf = T5Config(**{k: v for k, v in cfg.items() if k != "seq"}, feed_forward_proj="relu",
                    decoder_start_token_id=0, pad_token_id=0, attn_implementation="eager")
    model = DecoderStep(T5ForConditionalGeneration(conf), conf.decoder_start_token_id)
    trained_like(model)
    sample = token_sampler(np.random.default_rng(seed), seq, cfg["vocab_size"])
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "network.onnx")
    samples = [sample() for _ in range(100)]
    export(model, tuple(torch.from_numpy(x) for x in samples[0]), ["input_ids", "attention_mask"],
           ["logits"], path)
    write_reference(out, path, ["input_ids", "attention_mask"], samples, lambda x: x.reshape(-1).tolist())
    print(f"t5 -> {out}: {len(onnx.load(path).graph.node)} nodes, "
          f"{sum(p.numel() for p in model.parameters())} parameters")


def whisper(out, cfg, seed):
    torch.manual_seed(seed)
    frames = 2 * cfg["max_source_positions"]
    conf = WhisperConfig(**cfg, decoder_start_token_id=1, pad_token_id=0, attn_implementation="eager")
    model = DecoderStep(WhisperForConditionalGeneration(conf), conf.decoder_start_token_id)
    trained_like(model)
    rng = np.random.default_rng(seed)
    # log-mel-like features: Whisper's are clamped to [max - 8, max] and scaled to about [-1, 1]
    def sample():
        x = rng.standard_normal((1, cfg["num_mel_bins"], frames)).cumsum(axis=2) * 0.1
        return (np.clip(x - x.max() + 1.0, -1.0, 1.0).round(2).astype(np.float32),)
    os.makedirs(out, exist_ok=True)
    path = os.path.join(out, "network.onnx")
    samples = [sample() for _ in range(100)]
    export(model, (torch.from_numpy(samples[0][0]),), ["input_features"], ["logits"], path)
    write_reference(out, path, ["input_features"], samples,
                    lambda x: [round(float(v), 2) for v in x.reshape(-1)])
    print(f"whisper -> {out}: {len(onnx.load(path).graph.node)} nodes, "
          f"{sum(p.numel() for p in model.parameters())} parameters")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", metavar="DIR", help="build the full-size models into DIR")
    ap.add_argument("models", nargs="*", default=["gte", "t5", "whisper"])
    a = ap.parse_args()
    sizes = {"gte": (GTE_SMALL, GTE_TINY, gte), "t5": (T5_SMALL, T5_TINY, t5),
             "whisper": (WHISPER_TINY, WHISPER_TINIEST, whisper)}
    for name in a.models:
        full, tiny, build = sizes[name]
        if a.full:
            build(os.path.join(a.full, name), full, 20261206)
        else:
            build(os.path.join(REPO, "testdata", "models", f"{name}_tiny"), tiny, 20261206)


if __name__ == "__main__":
    main()
