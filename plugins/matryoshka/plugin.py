"""Registers the ``matryoshka[:DIR][@layer=L,dim=D]`` embedder."""

from __future__ import annotations

from viewrank import hookimpl


def _factory(arg: str | None, context):
    from viewrank.plugins.matryoshka.spec import make_matryoshka

    return make_matryoshka(arg, context)


@hookimpl
def viewrank_register_embedders(registry, context):
    registry.add("matryoshka", lambda arg: _factory(arg, context), arg_help="DIR[@layer=L,dim=D]",
                 description="2D-Matryoshka embedder: exit after L layers, keep the first D dims (2DMSE-trained or any encoder)")


@hookimpl
def viewrank_register_trainers(registry, context):
    from viewrank.plugins.matryoshka import train_command as tc
    from viewrank.trainers import module_trainer

    registry.add("matryoshka", lambda arg: module_trainer(tc, context), description=tc.DESCRIPTION)
