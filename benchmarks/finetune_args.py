"""The flags finetune_throughput.py and its transformers peer share, so both
do the same work (no TensorFlow or torch import here)."""


def add_workload_flags(parser):
  """--task, --data-dir, --batch, --seq, --train-examples, --dev-examples."""
  parser.add_argument("--task", default="tnews")
  parser.add_argument("--data-dir", required=True)
  parser.add_argument("--batch", type=int, default=32)
  parser.add_argument("--seq", type=int, default=128)
  parser.add_argument("--train-examples", type=int, default=3200)
  parser.add_argument("--dev-examples", type=int, default=500)
  return parser
