"""``viewrank encode``: embed a BEIR corpus and write a faiss index in Pyserini's layout.

``--codec NAME`` picks how the vectors are stored (an index codec registered through
``viewrank_register_index_codecs``: ``float``, ``int8``, ``binary``, or a plugin's). ``--int8`` and
``--binary`` are deprecated aliases of ``--codec int8`` / ``--codec binary``. ``--thresholds``,
``--rescore`` and ``--no-idmap`` are options of the ``binary`` codec; a codec that does not take
one fails before any encoding.
"""

from __future__ import annotations

import argparse
import functools
import json

from viewrank.cli.flags import add_deprecated_alias
from viewrank.context import Context
from viewrank.errors import UnknownNameError, ViewrankError


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("encode", help="embed a corpus with a registered embedder into a faiss index (Pyserini layout)")
    p.add_argument("--embedder", default="dense", help="registered embedder NAME[:ARG] (default: dense = MiniLM)")
    p.add_argument("--dataset", required=True, help="BEIR-layout folder (corpus.jsonl)")
    p.add_argument("--index", required=True, help="output index folder (index + docid + viewrank metadata)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument("--codec", default=None, metavar="NAME",
                      help="index codec: float (IndexFlatIP; default), int8 (scalar-quantised, calibrated per "
                           "dimension), binary (codes in a faiss binary index, Hamming search), or a plugin's "
                           "(`viewrank plugins` lists them)")
    add_deprecated_alias(kind, "--int8", "--codec int8", dest="int8_alias", store_true=True)
    add_deprecated_alias(kind, "--binary", "--codec binary", dest="binary_alias", store_true=True)
    p.add_argument("--thresholds", choices=("itq", "median", "zero", "ste"), default=None,
                   help="binary codec: itq (rotation; default), median (per-dimension corpus medians), zero (sign), "
                        "ste (projection trained label-free with a straight-through estimator; minutes)")
    p.add_argument("--no-idmap", action="store_true",
                   help="binary codec: plain IndexBinaryFlat (codes only, 32x smaller than float) instead of IndexBinaryIDMap")
    p.add_argument("--rescore", choices=("int8", "float", "none"), default=None,
                   help="binary codec: vectors kept beside the index to rescore Hamming candidates (default float)")
    p.add_argument("--threads", type=int, default=context.settings.threads,
                   help="torch threads for encoding (default: VIEWRANK_THREADS, else 2)")
    p.add_argument("--force", action="store_true", help="overwrite an existing index")
    p.set_defaults(func=functools.partial(run, context=context))


def codec_name(args: argparse.Namespace) -> str:
    """``--codec``, or what a deprecated ``--int8`` / ``--binary`` stands for (default ``float``)."""
    if getattr(args, "int8_alias", False):
        return "int8"
    if getattr(args, "binary_alias", False):
        return "binary"
    return args.codec or "float"


def codec_options(args: argparse.Namespace) -> dict:
    """The codec options given on the command line (only those: the codec has its defaults)."""
    options: dict = {}
    if args.thresholds is not None:
        options["binary_method"] = args.thresholds
    if args.rescore is not None:
        options["rescore"] = args.rescore
    if args.no_idmap:
        options["idmap"] = False
    return options


FLAGS = {"binary_method": "--thresholds", "rescore": "--rescore", "idmap": "--no-idmap"}


def run(args: argparse.Namespace, context: Context) -> int:
    from viewrank.adapters.pyserini.dense import META_NAME, build_index, resolve_codec

    settings = context.settings.with_(threads=args.threads)
    name, options = codec_name(args), codec_options(args)
    # Fail before loading the embedder: an unknown or disabled codec, an option the codec does not take.
    try:
        codec = context.host.codec(name)
    except UnknownNameError as exc:  # the host's message names the plugins VIEWRANK_DISABLE_PLUGINS disabled
        raise ViewrankError(f"the {name} codec is unavailable: {exc}") from None
    try:
        resolve_codec(codec, options=options)
    except ViewrankError as exc:
        raise ViewrankError(f"{' '.join(FLAGS[o] for o in options)}: {exc}") from None
    settings.apply_threads()
    out = build_index(args.embedder, args.dataset, args.index, codec, force=args.force, host=context.host, **options)
    meta = json.loads((out / META_NAME).read_text())
    extra = f" (+ {meta['rescore_bytes']:,} bytes of rescore vectors)" if "rescore_bytes" in meta else ""
    print(f"encoded {meta['documents']} documents ({meta['docs_per_second']} docs/s) into a {codec.name} index "
          f"{out}: {meta['index_bytes']:,} bytes{extra}")
    return 0
