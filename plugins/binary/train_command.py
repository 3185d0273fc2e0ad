"""``viewrank train binary --dataset DIR --output MODEL_DIR``: calibrate int8 ranges and binary codes.

Saves the float model and its int8 ranges + binary thresholds (calibrated on a corpus sample)
into one folder, usable as ``dense:OUT``, ``int8:OUT`` and ``binary:OUT``.
"""

from __future__ import annotations

import argparse

from viewrank.cli.flags import require_output
from viewrank.context import Context

DESCRIPTION = "calibrate int8 ranges and binary thresholds (ITQ, median, zero or trained) for a float embedder"


def add_arguments(ap: argparse.ArgumentParser, context: Context) -> None:
    from viewrank.cli.flags import add_deprecated_alias

    ap.add_argument("--embedder", default="dense", help="a float DenseEmbedder spec (dense[:DIR][@...])")
    ap.add_argument("--dataset", required=True, help="BEIR folder whose corpus calibrates the quantisers")
    ap.add_argument("--output", dest="out", default=None, help="output model folder (required)")
    add_deprecated_alias(ap, "--out", "--output", dest="out")
    ap.add_argument("--sample", type=int, default=1000, help="corpus documents used for calibration")
    ap.add_argument("--thresholds", choices=("itq", "median", "zero", "ste"), default="itq")


def run(args: argparse.Namespace, context: Context) -> int:
    require_output(args)
    import numpy as np

    from viewrank.datasets import BeirDataset
    from viewrank.plugins.binary.codes import BinaryQuantizer
    from viewrank.plugins.binary.int8 import Int8Quantizer
    from viewrank.plugins.binary.ste import train_ste_codes

    context.settings.apply_threads()
    emb = context.host.embedder(args.embedder)
    docs = list(BeirDataset(args.dataset).iter_corpus())
    pick = np.random.default_rng(0).permutation(len(docs))[: args.sample]
    vecs = emb.embed([docs[i].contents for i in pick], role="passage", progress=True)
    out = emb.save(args.out)
    Int8Quantizer.calibrate(vecs).save(out)
    if args.thresholds == "ste":
        quant = train_ste_codes(vecs, vecs, [(i, i) for i in range(len(vecs))], vecs, contrastive_weight=0.0)
    else:
        quant = BinaryQuantizer.calibrate(vecs, args.thresholds)
    quant.save(out)
    print(f"saved {out} with int8 ranges and {quant.method} binary thresholds from {len(vecs)} documents")
    return 0
