"""A real OpenSearch node (assembled from Maven Central on first use) and a real viewrank serve."""

from __future__ import annotations

import pytest

from tests.serve.conftest import start_server


@pytest.fixture(scope="session")
def node():
    from viewrank.adapters.opensearch import node as os_node

    state = os_node.up()
    yield state
    # the node is left running for the next session's tests; `viewrank opensearch down` stops it


@pytest.fixture(scope="session")
def models():
    from viewrank.manager import get_host

    host = get_host()
    return host.embedder("dense"), host.reranker("bi-encoder")


def serve(models, **limits):
    from viewrank.adapters.serve.app import create_app

    embedder, reranker = models
    return start_server(create_app(embedder, reranker, names={"embedder": "dense", "reranker": "bi-encoder"}, **limits))


@pytest.fixture(scope="session")
def serve_url(models):
    server, thread, url = serve(models)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def tiny_setup(node, serve_url, tiny_dataset):
    from viewrank.adapters.opensearch import workflow

    st = workflow.setup(node.url, serve_url, "viewrank-test-tiny", replace=True)
    report = workflow.ingest(st.index, str(tiny_dataset))
    assert report.indexed == 6 and not report.failed
    return st
