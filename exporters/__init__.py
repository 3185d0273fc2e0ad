"""viewrank.exporters"""

# Queries in the parity gate's SciFact sample, for `viewrank export` and `viewrank verify-export`
# alike: at 30, one swap of a near-tied pair moved nDCG@10 by up to 0.01 (docs/export.md).
DEFAULT_PARITY_QUERIES = 100
