"""Raw text -> pretraining TFRecords, in several processes.

Each process tokenizes its share of the corpus files (in file order shuffled
by the seed), packs examples with `ExampleBuilder` and writes them round-robin
into its share of the shards. Shards are written under temporary names and
renamed only when every process has finished, so an interrupted build leaves
any earlier output untouched.
"""

import dataclasses
import glob
import math
import multiprocessing
import os
import random
import time

import tensorflow as tf

from model import tokenization
from model import tokenizers
from pretrain import corpus_reader
from pretrain import example_builder
from pretrain import word_segmentation
from training import progress
from util import files as files_lib
from util import logs

SHARD_PREFIX = "pretrain_data.tfrecord"
MANIFEST = "manifest.json"
BYTES_PER_SHARD = 16 * 1024 * 1024
TOKENIZE_BATCH = 2048


@dataclasses.dataclass
class BuildOptions:
  """What `build_pretraining_dataset.py` takes on its command line."""

  corpus_dir: str
  vocab_file: str
  output_dir: str
  max_seq_length: int = 128
  num_processes: int = 1
  blanks_separate_docs: bool = True
  do_lower_case: bool = True
  strip_accents: bool = True
  num_out_files: int = 0  # 0: sized to the corpus
  seed: int = 0
  overwrite: bool = False
  replace_invalid_utf8: bool = False
  fast_tokenizer: bool = True
  word_segmentation: str = "none"  # see pretrain/word_segmentation.py
  ref_dir: str = None  # run_chinese_ref.py files, with "ref"


def shard_name(index, total):
  return f"{SHARD_PREFIX}-{index}-of-{total}"


def default_num_shards(files, num_processes):
  total = sum(os.path.getsize(f) for f in files)
  return max(num_processes, min(1000, math.ceil(total / BYTES_PER_SHARD)))


def existing_outputs(output_dir):
  return sorted(
    glob.glob(os.path.join(output_dir, SHARD_PREFIX + "-*"))
    + glob.glob(os.path.join(output_dir, MANIFEST))
  )


def check_output_dir(options):
  """Refuses to replace earlier output unless --overwrite."""
  if not os.path.isdir(options.output_dir):
    return
  old = existing_outputs(options.output_dir)
  others = [
    n
    for n in os.listdir(options.output_dir)
    if not n.startswith(".") and os.path.join(options.output_dir, n) not in old
  ]
  if (old or others) and not options.overwrite:
    raise FileExistsError(
      f"--output-dir {options.output_dir} is not empty ({len(old)} shard/"
      f"manifest files, {len(others)} other files); pass --overwrite to "
      f"replace the shards (other files are never deleted)"
    )


class _JobProgress:
  """The per-process progress line: files, examples, tokens/s, ETA."""

  def __init__(self, job_id, num_files):
    self.job_id, self.num_files = job_id, num_files
    self.start = self.last = time.time()

  def log(self, done, examples, tokens, force=False):
    now = time.time()
    if not force and now - self.last < 5:
      return
    self.last = now
    elapsed = max(now - self.start, 1e-9)
    eta = (self.num_files - done) * elapsed / max(done, 1)
    logs.log(
      f"Job {self.job_id}: processed {done}/{self.num_files} files "
      f"({100.0 * done / max(self.num_files, 1):.1f}%), {examples} "
      f"examples, {tokens / elapsed:,.0f} tokens/s, ELAPSED: "
      f"{progress.secs_to_str(elapsed)}, ETA: "
      f"{progress.secs_to_str(eta)}"
    )


def _examples_of_file(path, line_tokenizer, builder, options, stats):
  """Yields the examples of one file (a file ends its last document)."""
  lines, replaced = corpus_reader.read_lines(path, options.replace_invalid_utf8)
  stats["replaced_invalid_utf8"] += replaced
  lines = [line.strip() for line in lines]
  line_tokenizer.open_file(path, lines)
  done_nonblank = 0
  for begin in range(0, len(lines), TOKENIZE_BATCH):
    chunk = lines[begin : begin + TOKENIZE_BATCH]
    nonblank = [line for line in chunk if line]
    tokenized = iter(line_tokenizer.tokenize(nonblank, done_nonblank))
    done_nonblank += len(nonblank)
    for line in chunk:
      if line:
        token_ids, starts = next(tokenized)
        stats["tokens"] += len(token_ids)
        example = builder.add_sentence(token_ids, starts)
      elif options.blanks_separate_docs:
        example = builder.end_document()
      else:
        continue
      if example:
        yield example
  example = builder.end_document()
  if example:
    yield example


def write_job(job_id, options, files, num_shards, tmp_tag):
  """One process: tokenizes its files and writes its shards (temp names)."""
  tokenizer = tokenizers.get_tokenizer(
    options.vocab_file,
    options.do_lower_case,
    options.strip_accents,
    options.fast_tokenizer,
  )
  line_tokenizer = word_segmentation.LineTokenizer(
    tokenizer, options.word_segmentation, options.corpus_dir, options.ref_dir
  )
  rng = random.Random(f"{options.seed}-{job_id}")
  builder = example_builder.ExampleBuilder(
    tokenizer.vocab["[CLS]"],
    tokenizer.vocab["[SEP]"],
    options.max_seq_length,
    rng,
  )
  shards = [i for i in range(num_shards) if i % options.num_processes == job_id]
  writers = [
    tf.io.TFRecordWriter(
      os.path.join(
        options.output_dir, f".{tmp_tag}-{shard_name(i, num_shards)}"
      )
    )
    for i in shards
  ]
  my_files = files[job_id :: options.num_processes]
  rng.shuffle(my_files)
  stats = {
    "examples": 0,
    "tokens": 0,
    "replaced_invalid_utf8": 0,
    "shards": {shard_name(i, num_shards): 0 for i in shards},
  }
  job_progress = _JobProgress(job_id, len(my_files))
  for done, path in enumerate(my_files, 1):
    examples = _examples_of_file(path, line_tokenizer, builder, options, stats)
    for example in examples:
      slot = stats["examples"] % len(writers)
      writers[slot].write(example_builder.serialize_example(*example))
      stats["shards"][shard_name(shards[slot], num_shards)] += 1
      stats["examples"] += 1
    job_progress.log(
      done, stats["examples"], stats["tokens"], force=done == len(my_files)
    )
  for writer in writers:
    writer.close()
  return stats


def _run_jobs(options, files, num_shards, tmp_tag):
  args = [
    (job, options, files, num_shards, tmp_tag)
    for job in range(options.num_processes)
  ]
  if options.num_processes == 1:
    return [write_job(*args[0])]
  with multiprocessing.get_context("spawn").Pool(options.num_processes) as pool:
    return pool.starmap(write_job, args)


def _merge_stats(results):
  merged = {
    "examples": 0,
    "tokens": 0,
    "replaced_invalid_utf8": 0,
    "shards": {},
  }
  for stats in results:
    for key in ("examples", "tokens", "replaced_invalid_utf8"):
      merged[key] += stats[key]
    merged["shards"].update(stats["shards"])
  return merged


def _publish(options, tmp_tag, stats):
  """Replaces earlier shards (and manifest) by the new shards."""
  for old in existing_outputs(options.output_dir):
    os.remove(old)
  for name in stats["shards"]:
    os.replace(
      os.path.join(options.output_dir, f".{tmp_tag}-{name}"),
      os.path.join(options.output_dir, name),
    )


def build(options):
  """Builds the TFRecords and the manifest; returns the manifest dict."""
  if options.num_processes < 1:
    raise ValueError("--num-processes must be at least 1")
  files = corpus_reader.list_corpus_files(options.corpus_dir)
  vocab = _check_vocab(options.vocab_file)
  word_segmentation.check_method(options.word_segmentation, options.ref_dir)
  check_output_dir(options)
  os.makedirs(options.output_dir, exist_ok=True)
  num_shards = options.num_out_files or default_num_shards(
    files, options.num_processes
  )
  if num_shards < options.num_processes:
    raise ValueError(
      f"--num-out-files ({num_shards}) must be at least "
      f"--num-processes ({options.num_processes})"
    )
  tmp_tag = f"tmp{os.getpid()}"
  start = time.time()
  try:
    stats = _merge_stats(_run_jobs(options, files, num_shards, tmp_tag))
  except BaseException:
    for path in glob.glob(os.path.join(options.output_dir, f".{tmp_tag}-*")):
      os.remove(path)
    raise
  _publish(options, tmp_tag, stats)
  manifest = dict(
    stats,
    files=len(files),
    vocab_file=options.vocab_file,
    vocab_size=vocab,
    seconds=round(time.time() - start, 2),
    settings=dataclasses.asdict(options),
  )
  files_lib.atomic_write_json(
    manifest, os.path.join(options.output_dir, MANIFEST)
  )
  return manifest


def _check_vocab(vocab_file):
  """The vocab size, after checking the file and its special tokens."""
  if vocab_file.endswith(".model"):
    return len(tokenizers.SentencePieceTokenizer(vocab_file).vocab)
  vocab = tokenization.load_vocab(vocab_file)
  tokenization.check_special_tokens(vocab, vocab_file)
  return len(vocab)
