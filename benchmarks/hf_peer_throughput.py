"""The peer: HuggingFace transformers' PyTorch ELECTRA doing the same work.

Not part of the toolkit's dependencies: run it in an environment with
`pip install torch transformers`:
  python benchmarks/hf_peer_throughput.py --preset tiny --batch 32 --seq 128
Generator 1/4 of the discriminator sharing its embeddings, 15% masking, the
replacements sampled at the masked positions only (as ELECTRA and our step
do), loss = gen + 50 x disc, one AdamW step per batch, synthetic data;
prints one JSON line with sequences per second (after warm-up).
"""

import argparse
import json
import time

import torch
from transformers import ElectraConfig
from transformers import ElectraForMaskedLM
from transformers import ElectraForPreTraining

PRESETS = {  # (hidden, layers, heads, ffn, embedding)
  "tiny": (312, 4, 12, 1200, 312),
  "small": (256, 12, 4, 1024, 128),
}


def build(preset, vocab):
  hidden, layers, heads, ffn, emb = PRESETS[preset]
  gen_hidden = hidden // 4
  disc = ElectraForPreTraining(
    ElectraConfig(
      vocab_size=vocab,
      embedding_size=emb,
      hidden_size=hidden,
      num_hidden_layers=layers,
      num_attention_heads=heads,
      intermediate_size=ffn,
    )
  )
  gen = ElectraForMaskedLM(
    ElectraConfig(
      vocab_size=vocab,
      embedding_size=emb,
      hidden_size=gen_hidden,
      num_hidden_layers=layers,
      num_attention_heads=max(1, gen_hidden // 64),
      intermediate_size=4 * gen_hidden,
    )
  )
  gen.electra.embeddings = disc.electra.embeddings  # shared embeddings
  return gen, disc


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--seq", type=int, default=128)
  parser.add_argument("--steps", type=int, default=10)
  parser.add_argument("--vocab", type=int, default=21128)
  parser.add_argument(
    "--bf16",
    action="store_true",
    help="forward passes under torch.autocast(cpu, bfloat16)",
  )
  args = parser.parse_args()
  torch.manual_seed(0)
  gen, disc = build(args.preset, args.vocab)
  params = {id(p): p for p in list(gen.parameters()) + list(disc.parameters())}
  optimizer = torch.optim.AdamW(params.values(), lr=5e-4, weight_decay=0.01)
  ids = torch.randint(1000, args.vocab, (args.batch, args.seq))

  def step():
    masked = torch.rand(ids.shape) < 0.15
    inputs = ids.masked_fill(masked, 103)
    labels = ids.masked_fill(~masked, -100)
    with torch.autocast("cpu", torch.bfloat16, enabled=args.bf16):
      gen_out = gen(input_ids=inputs, labels=labels)
      with torch.no_grad():
        # torch.multinomial is mostly one thread: sampling every position
        # of [batch, seq, vocab] took over half the step
        logits = gen_out.logits[masked].float()
        sampled = torch.distributions.Categorical(logits=logits).sample()
      fake = ids.masked_scatter(masked, sampled)
      disc_out = disc(input_ids=fake, labels=(fake != ids).long())
      loss = gen_out.loss + 50.0 * disc_out.loss
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
    optimizer.step()

  for _ in range(2):
    step()
  start = time.perf_counter()
  for _ in range(args.steps):
    step()
  elapsed = time.perf_counter() - start
  print(
    json.dumps(
      {
        "peer": "transformers-pytorch",
        "preset": args.preset,
        "batch": args.batch,
        "seq": args.seq,
        "bf16": args.bf16,
        "threads": torch.get_num_threads(),
        "seq_per_s": round(args.steps * args.batch / elapsed, 2),
      }
    )
  )


if __name__ == "__main__":
  main()
