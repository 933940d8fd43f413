#!/usr/bin/python3
"""PyTorch reference for one training step of GenSearch's reference encoder-decoder.

The model the C# train-step benchmark mirrors:
  d_model 256, 4 heads, 2 encoder + 2 decoder pre-norm layers (norm_first), GELU FFN 1024, dropout 0.1;
  source 16 tokens, target 4 tokens (causal self-attention in the decoder, cross-attention to the
  encoder); vocabulary 512; one token embedding table shared by source and target, learned positional
  embeddings (one table per side); final LayerNorms (encoder and decoder) and an untied output
  projection to the vocabulary; cross-entropy over the 4 target positions; AdamW (lr 1e-3, wd 0.01).
A batch is 256 random sequences drawn once with a fixed seed; every step trains on it.

Prints `name: value` lines: torch_threads, torch_train_samples_per_s (batch / median step time, robust
on a shared machine), torch_step_ms (that median), torch_step_cpu_ms (median process CPU time per
step), torch_loss_first, torch_loss_last.
Run with Debian's python (torch 1.13 CPU): /usr/bin/python3 train_step_torch.py --threads 2 --steps 20 --warmup 3
"""
import argparse
import time

import torch
import torch.nn as nn

D_MODEL, HEADS, LAYERS, FFN, DROPOUT = 256, 4, 2, 1024, 0.1
SRC_LEN, TGT_LEN, VOCAB, BATCH = 16, 4, 512, 256


class Seq2Seq(nn.Module):
    # Shapes: src [B, 16], tgt [B, 4] token ids -> logits [B, 4, 512].
    def __init__(self):
        super().__init__()
        self.tokens = nn.Embedding(VOCAB, D_MODEL)
        self.src_pos = nn.Parameter(torch.randn(SRC_LEN, D_MODEL) * 0.02)
        self.tgt_pos = nn.Parameter(torch.randn(TGT_LEN, D_MODEL) * 0.02)
        # nn.Transformer with norm_first=True adds the final encoder and decoder LayerNorms.
        self.transformer = nn.Transformer(
            d_model=D_MODEL, nhead=HEADS, num_encoder_layers=LAYERS, num_decoder_layers=LAYERS,
            dim_feedforward=FFN, dropout=DROPOUT, activation="gelu", batch_first=True, norm_first=True)
        self.out = nn.Linear(D_MODEL, VOCAB)
        self.register_buffer("causal", nn.Transformer.generate_square_subsequent_mask(TGT_LEN))

    def forward(self, src, tgt):
        x = self.tokens(src) + self.src_pos          # [B, 16, 256]
        y = self.tokens(tgt) + self.tgt_pos          # [B, 4, 256]
        h = self.transformer(x, y, tgt_mask=self.causal)  # [B, 4, 256]
        return self.out(h)                           # [B, 4, 512]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads (torch.set_num_threads)")
    parser.add_argument("--steps", type=int, default=20, help="timed training steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--seed", type=int, default=1234)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(args.seed)

    model = Seq2Seq().train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    loss_fn = nn.CrossEntropyLoss()
    src = torch.randint(0, VOCAB, (BATCH, SRC_LEN))
    tgt_in = torch.randint(0, VOCAB, (BATCH, TGT_LEN))
    labels = torch.randint(0, VOCAB, (BATCH, TGT_LEN))

    def step():
        opt.zero_grad(set_to_none=True)
        logits = model(src, tgt_in)
        loss = loss_fn(logits.reshape(-1, VOCAB), labels.reshape(-1))
        loss.backward()
        opt.step()
        return loss.item()

    first = None
    for _ in range(args.warmup):
        loss = step()
        if first is None:
            first = loss
    times, cpu_times, last = [], [], None
    for _ in range(args.steps):
        start, cpu_start = time.perf_counter(), time.process_time()
        last = step()
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
        if first is None:
            first = last
    median = sorted(times)[len(times) // 2]
    cpu_median = sorted(cpu_times)[len(cpu_times) // 2]
    print(f"torch_threads: {args.threads}")
    print(f"torch_train_samples_per_s: {BATCH / median:.1f}")
    print(f"torch_step_ms: {median * 1e3:.2f}")
    # CPU seconds of the whole process per step (all its threads): on a shared machine the steadier
    # measure of work done; with several threads it also counts time their workers spend spinning.
    print(f"torch_step_cpu_ms: {cpu_median * 1e3:.2f}")
    print(f"torch_loss_first: {first:.4f}")
    print(f"torch_loss_last: {last:.4f}")


if __name__ == "__main__":
    main()
