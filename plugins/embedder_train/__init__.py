"""``viewrank train embedder``: contrastive fine-tuning of a dense embedder and its recipes."""
