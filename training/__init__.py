"""Generic training machinery shared by pretraining and fine-tuning."""
