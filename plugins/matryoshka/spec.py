"""The ``matryoshka`` spec: ``matryoshka[:DIR][@layer=L,dim=D]``.

``layer`` = number of transformer blocks to run (1..num_layers; the encoder exits there),
``dim`` = leading components kept before L2 normalisation. Omitted values come from the
model's saved ``viewrank_dense.json`` (which a 2DMSE training run writes), else full depth and
width. Any other DenseConfig key may be given too (``@layer=4,dim=128,max_length=128``).
Examples: ``matryoshka:models/2dmse@layer=4,dim=128``, ``matryoshka:@dim=64`` (packaged MiniLM).
"""

from __future__ import annotations

DEFAULT_MODEL = "all-MiniLM-L6-v2"


def make_matryoshka(arg: str | None, context):
    from viewrank.plugins.dense.embedder import DenseConfig, DenseEmbedder, parse_options

    model, options = parse_options(arg)
    path = context.host.resolve_model_path(model or DEFAULT_MODEL)
    return DenseEmbedder(path, DenseConfig.load(path).with_options(options))
