"""2D Matryoshka sentence embeddings (2DMSE): pick (layer, dim) at inference."""
