"""Sentence embeddings from decoder-only LMs: bidirectional attention, Token Prepending."""
