"""viewrank.exporters"""

# Queries in the parity gate's SciFact sample, for `viewrank export` and `viewrank verify-export`
# alike: at 30, one swap of a near-tied pair moved nDCG@10 by up to 0.01 (docs/export.md).
DEFAULT_PARITY_QUERIES = 100

# The mixed-precision int8 search (viewrank.exporters.mixed, `--int8-keep-fp32 auto`): SciFact
# train queries it calibrates on, and the largest share of the quantisable weights it may keep fp32.
DEFAULT_CALIBRATION_QUERIES = 100
DEFAULT_FP32_BUDGET = 0.25
