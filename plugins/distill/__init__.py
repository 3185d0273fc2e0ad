"""Distillation: train a bi-encoder to reproduce a reranker teacher's scores."""
