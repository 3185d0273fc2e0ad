"""Dense embedders: mean/CLS pooling over any local Hugging Face encoder."""
