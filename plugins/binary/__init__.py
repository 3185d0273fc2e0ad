"""Quantised embeddings: int8 with stored calibration ranges, and binary codes (sign or
calibrated thresholds, optional ITQ rotation or a trained straight-through projection)."""
