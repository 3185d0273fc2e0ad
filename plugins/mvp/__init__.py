"""MVP: multi-view listwise reranking (Na et al., EMNLP 2025) and its baselines.

Model classes (pure torch, one per file) share one contract that exporters build on::

    batch = model.tokenize(query, passages)      # dict of [N, L] tensors
    scores = model(**batch)                      # [N] scores for ONE query's N candidates
    model.save(dir); Model.load(dir)             # config in viewrank_mvp.json beside the weights

:func:`viewrank.plugins.mvp.loading.load_mvp_model` returns the right class for a directory.
"""
