"""Registers the ``int8:DIR`` and ``binary:DIR`` embedders, the ``int8`` and ``binary`` index codecs
and the ``binary`` trainer."""

from __future__ import annotations

from viewrank import hookimpl


def _make(kind: str, context):
    def factory(arg: str | None):
        from viewrank.errors import ViewrankError
        from viewrank.plugins.binary.embedder import load_quantized

        if not arg:
            raise ViewrankError(f"{kind} needs a folder: {kind}:DIR (a `viewrank encode --codec {kind}` index, "
                                f"or a model folder with its calibration file)")
        return load_quantized(kind, arg, context.host)

    return factory


@hookimpl
def viewrank_register_embedders(registry, context):
    registry.add("int8", _make("int8", context), arg_help="DIR",
                 description="int8 vectors with per-dimension calibration ranges stored in DIR")
    registry.add("binary", _make("binary", context), arg_help="DIR",
                 description="packed binary codes (median / ITQ / trained thresholds stored in DIR)")


def _codec(kind: str):
    def factory(arg: str | None):
        from viewrank.errors import ViewrankError

        if arg is not None:
            raise ViewrankError(f"the {kind} codec takes no argument (got {kind}:{arg})")
        if kind == "int8":
            from viewrank.plugins.binary.int8 import Int8Codec

            return Int8Codec()
        from viewrank.plugins.binary.codes import BinaryCodec

        return BinaryCodec()

    return factory


@hookimpl
def viewrank_register_index_codecs(registry):
    registry.add("int8", _codec("int8"),
                 description="faiss IndexScalarQuantizer QT_8bit, per-dimension ranges from the corpus (4x smaller)")
    registry.add("binary", _codec("binary"),
                 description="packed bits in a faiss binary index, Hamming search, optional float/int8 rescoring")


@hookimpl
def viewrank_register_trainers(registry, context):
    from viewrank.plugins.binary import train_command as tc
    from viewrank.trainers import module_trainer

    registry.add("binary", lambda arg: module_trainer(tc, context), description=tc.DESCRIPTION)
