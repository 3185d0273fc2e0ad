"""A real 3-node OpenSearch cluster on loopback: ingest through the in-node embedding model while
nodes are SIGKILLed and restarted loses and duplicates nothing, searches meanwhile either answer
right or fail with a retriable error, and `down` stops every node it started and nothing else."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass

import pytest

from tests.exporters.conftest import export, tiny_bert
from viewrank.adapters.opensearch import client as C
from viewrank.adapters.opensearch import cluster as K
from viewrank.adapters.opensearch import faults as F
from viewrank.adapters.opensearch import node as N

pytestmark = [pytest.mark.opensearch, pytest.mark.slow]

NODES = 3
WORDS = ("protein cell vitamin bone immune gene tumour insulin neuron virus antibody enzyme receptor "
         "membrane kinase therapy dose trial mouse patient signal pathway").split()


@dataclass
class Doc:
    docid: str
    title: str
    contents: str


def synthetic_docs(n: int, seed: int = 0) -> list[Doc]:
    rng = random.Random(seed)
    return [Doc(f"doc {i:04d}", "", " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30)))) for i in range(n)]


@pytest.fixture(scope="module")
def cluster():
    state = K.up(nodes=NODES, heap="768m")
    yield state
    K.down()


@pytest.fixture(scope="module")
def setup(cluster, tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster-model")
    bundle = export(f"dense:{tiny_bert(root / 'dense')}", root / "export", ml_commons=True, parity=False)
    client = C.connect(cluster.url)
    C.configure_ml(client)
    model_id = C.register_local_model(client, bundle, name="viewrank-embed-cluster-test", replace=True)
    C.create_ingest_pipeline(client, "viewrank-cluster-test", model_id)
    return client, model_id


def make_index(client, name: str) -> None:
    C.create_index(client, name, 24, "viewrank-cluster-test", replace=True)


def test_three_nodes_form_one_cluster_and_indexes_get_a_replica(cluster, setup):
    client, _ = setup
    health = client.cluster.health()
    assert health["number_of_nodes"] == NODES and health["cluster_name"] == K.CLUSTER_NAME
    assert len({n.port for n in cluster.nodes}) == NODES and len({n.data for n in cluster.nodes}) == NODES
    make_index(client, "cluster-shape")
    settings = client.indices.get_settings(index="cluster-shape")["cluster-shape"]["settings"]["index"]
    assert settings["number_of_replicas"] == "1" and settings["number_of_shards"] == "3"
    # `up` again reuses the running cluster: same pids
    again = K.up(nodes=NODES, heap="768m")
    assert [n.pid for n in again.nodes] == [n.pid for n in cluster.nodes]


def test_ingest_while_nodes_are_killed_loses_and_duplicates_nothing(cluster, setup):
    client, model_id = setup
    docs = synthetic_docs(480)
    make_index(client, "cluster-clean")
    clean = C.bulk_ingest(client, "cluster-clean", docs, batch_size=16)
    assert clean.indexed == len(docs) and not clean.failed
    make_index(client, "cluster-faulted")
    queries = [("bm25", "vitamin bone"), ("neural", "immune cell therapy"), ("bm25", "insulin receptor"),
               ("neural", "virus antibody")]
    run = F.ingest_with_faults(client, cluster, "cluster-faulted", docs, model_id, kills=3,
                               search_index="cluster-clean", queries=queries)
    assert [e.action for e in run.events].count("kill") == 3 and [e.action for e in run.events].count("restart") == 3
    assert {e.node for e in run.events if e.action == "kill"} == {n.name for n in cluster.nodes}
    assert not run.report.failed, run.report.failed
    cmp = F.compare_indexes(client, "cluster-faulted", "cluster-clean", {d.docid for d in docs})
    assert cmp["count"] == len(docs) and cmp["n_missing"] == 0 and not cmp["extra"] and cmp["duplicates"] == 0, cmp
    assert cmp["vectors_missing"] == 0 and cmp["max_vector_diff"] < 1e-5, cmp
    # searches during the faults: never a wrong answer; failures only retriable ones
    assert run.searches.answered > 0 and not run.searches.wrong, run.searches
    assert not run.searches.unexpected, run.searches
    # the model answered from the surviving nodes after every kill (within the 120 s asked)
    assert len(run.model_available_while_down) == 3 and None not in run.model_available_while_down


def test_the_model_is_deployed_on_every_node_again(cluster, setup):
    client, model_id = setup
    deadline = time.monotonic() + 180
    while True:
        model = client.transport.perform_request("GET", f"{C.ML}/models/{model_id}")
        if model.get("model_state") == "DEPLOYED" and model.get("current_worker_node_count") == NODES:
            break
        assert time.monotonic() < deadline, model
        time.sleep(2)
    assert len(C.predict_local_embedding(client, model_id, ["back on all nodes"])[0]) == 24


def test_down_stops_nodes_a_crashed_run_left_and_nothing_else(cluster, tmp_path):
    # a process that is not a node of ours, even with an OpenSearch-like command line, and one whose
    # pid sits in a node's pid file (a reused pid)
    decoy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)",
                              "-Dopensearch.path.home=/elsewhere/dist"])
    reused = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        pids = [n.pid for n in cluster.nodes]
        assert all(N._alive(p) for p in pids)
        assert sorted(N.our_nodes(N.cache_root() / "dist", N.cache_root() / "cluster")) == sorted(pids)
        # the crash: the state file is gone, a pid file names another process
        K.ClusterState.path(N.cache_root()).unlink()
        with open(cluster.nodes[0].pidfile, "w") as f:
            f.write(str(reused.pid))
        assert K.down() == NODES
        assert not any(N._alive(p) for p in pids)
        assert decoy.poll() is None and reused.poll() is None  # both still running
        assert K.down() == 0
    finally:
        for p in (decoy, reused):
            p.kill()
            p.wait()
    assert os.path.isdir(cluster.nodes[0].data)  # the data stay for the next `up`
