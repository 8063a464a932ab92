"""Checkpoint and model formats in and out: ours, TF1, SavedModel."""
