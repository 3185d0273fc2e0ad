"""``viewrank opensearch up|down|setup|register-local|verify-local|ingest|search|eval``: neural search on a local node."""

from __future__ import annotations

import argparse
import functools
import json
from dataclasses import asdict

from viewrank.errors import ViewrankError
from viewrank.exporters import DEFAULT_PARITY_QUERIES
from viewrank.cli.flags import add_deprecated_alias
from viewrank.context import Context


def register(sub: argparse._SubParsersAction, context: Context) -> None:
    p = sub.add_parser("opensearch", help="a local OpenSearch node with ml-commons, k-NN and neural search")
    ops = p.add_subparsers(dest="op", metavar="OP", required=True)
    up = ops.add_parser("up", help="assemble (first time, from Maven Central) and start a node on 127.0.0.1")
    up.add_argument("--port", type=int, default=None, help="HTTP port (default: a free one)")
    up.add_argument("--heap", default="1g", help="JVM heap of each node")
    up.add_argument("--nodes", type=int, default=1,
                    help="1: one node; 2-9: a local cluster on loopback ports (own data paths; indexes get 1 replica)")
    ops.add_parser("down", help="stop every node viewrank started (a cluster's too, and any a crashed run left)")
    st = ops.add_parser("setup", help="models (on viewrank serve or inside the node), pipelines and the k-NN index")
    st.add_argument("--serve-url", default=None,
                    help="where `viewrank serve --embedder .. --reranker ..` listens (for each model not given as an export)")
    st.add_argument("--embedder-export", default=None, metavar="DIR",
                    help="run the embedder inside the node: a `viewrank export onnx dense[:DIR] --ml-commons` directory")
    st.add_argument("--reranker-export", default=None, metavar="DIR",
                    help="run the reranker inside the node: a `viewrank export onnx cross-encoder:DIR --ml-commons` "
                         "directory (MVP is listwise: serve it remotely)")
    st.add_argument("--token", default=None, help="bearer token of viewrank serve")
    st.add_argument("--index", default="scifact")
    st.add_argument("--data-type", choices=["float", "byte"], default="float")
    st.add_argument("--replace", action="store_true", help="drop and recreate the index")
    st.add_argument("--combination", choices=["minmax", "rrf"], default="minmax",
                    help="how --mode hybrid fuses BM25 and neural: minmax = normalization-processor (min-max, "
                         "0.3/0.7 weighted mean; default), rrf = score-ranker-processor (reciprocal rank fusion)")
    st.add_argument("--rank-constant", type=int, default=None, metavar="K",
                    help="RRF's k in 1/(k + rank), 1..10000 (default 60; only with --combination rrf)")
    st.add_argument("--rerank-field", default=None, metavar="FIELD",
                    help="also create a by_field rerank pipeline: --mode field reranks BM25 hits by this stored "
                         "numeric field (e.g. a reranker score written at ingest)")
    st.add_argument("--remove-rerank-field", action="store_true",
                    help="drop FIELD from the hits' _source once reranked (with --rerank-field)")
    st.add_argument("--keep-previous-score", action="store_true",
                    help="keep the BM25 score as previous_score in the hits' _source (with --rerank-field)")
    st.add_argument("--vector-mode", choices=["in_memory", "on_disk"], default="in_memory",
                    help="k-NN workload mode of the vector field (on_disk: quantised graph, full vectors rescored)")
    st.add_argument("--shards", type=int, default=None, metavar="N",
                    help="primary shards of the index (default: 1 on one node, one per node up to 3 on a cluster)")
    st.add_argument("--replicas", type=int, default=None, metavar="N",
                    help="replicas of each shard (default: 0 on one node, 1 on a cluster)")
    st.add_argument("--compression", default=None, metavar="LEVEL",
                    help="on_disk compression level; this node's Lucene engine takes 4x (32x binary quantisation "
                         "needs faiss natives the Maven k-NN zip lacks: refused with a clear error)")
    rl = ops.add_parser("register-local", help="upload and deploy an `export onnx --ml-commons` bundle to run "
                                               "inside the node (TEXT_EMBEDDING or TEXT_SIMILARITY)")
    rl.add_argument("export_dir", help="a `viewrank export onnx MODEL --ml-commons` output directory")
    rl.add_argument("--name", default=None, help="model name in ml-commons (default: the export's)")
    rl.add_argument("--url", default=None, help="node URL (default: the node `up` started)")
    vl = ops.add_parser("verify-local", help="the parity gate run through the node: deploy an ml-commons bundle "
                                             "(or reuse it) and compare its outputs with the PyTorch source model")
    vl.add_argument("export_dir", help="a `viewrank export onnx MODEL --ml-commons` output directory")
    vl.add_argument("--model", default=None, help="PyTorch model spec to compare with (default: the export's source)")
    vl.add_argument("--name", default=None, help="model name in ml-commons (default: the export's)")
    vl.add_argument("--parity-data", default=None, help="BEIR SciFact dir (default: scifact under --data)")
    vl.add_argument("--parity-queries", type=int, default=DEFAULT_PARITY_QUERIES,
                    help=f"queries in the gate's sample (default {DEFAULT_PARITY_QUERIES})")
    vl.add_argument("--report", default=None, metavar="FILE", help="also write the report (JSON) to this file")
    add_deprecated_alias(vl, "--json", "--report", dest="report")
    vl.add_argument("--url", default=None, help="node URL (default: the node `up` started)")
    ing = ops.add_parser("ingest", help="bulk-ingest a BEIR corpus through the text_embedding pipeline")
    ing.add_argument("--dataset", required=True)
    ing.add_argument("--index", default="scifact")
    ing.add_argument("--limit", type=int, default=None, help="only the first N documents")
    se = ops.add_parser("search", help="BM25, neural, hybrid or BM25+rerank run, evaluated with trec_eval")
    se.add_argument("--dataset", required=True)
    se.add_argument("--index", default="scifact")
    se.add_argument("--split", default="test")
    se.add_argument("--mode", choices=["bm25", "neural", "hybrid", "rerank", "field"], required=True,
                    help="field: BM25 hits reranked by the stored field of `setup --rerank-field`")
    se.add_argument("--hits", type=int, default=100, help="results per query in the run (default 100)")
    add_deprecated_alias(se, "--depth", "--hits", dest="hits", type=int)
    se.add_argument("--output", required=True)
    se.add_argument("--resume", action="store_true")
    se.add_argument("--limit", type=int, default=None, help="only the first N queries")
    ev = ops.add_parser("eval", help="evaluate a run file with the same trec_eval as the Pyserini path")
    ev.add_argument("--run", required=True)
    ev.add_argument("--dataset", required=True)
    ev.add_argument("--split", default="test")
    st.add_argument("--url", default=None, help="node URL (default: the node `up` started)")
    p.set_defaults(func=functools.partial(run, context=context))


def _table(metrics: dict[str, float]) -> str:
    return "  ".join(f"{k} {v:.4f}" for k, v in metrics.items())


def run(args: argparse.Namespace, context: Context) -> int:
    from viewrank.adapters.opensearch import node, workflow

    if args.op == "up":
        if args.nodes != 1:
            from viewrank.adapters.opensearch import cluster

            if args.port is not None:
                raise ViewrankError("--port names one node's port; a cluster's nodes take free loopback ports")
            cs = cluster.up(nodes=args.nodes, heap=args.heap)
            print(f"OpenSearch {node.VERSION}: a {len(cs.nodes)}-node cluster is up at {cs.url} "
                  f"(pids {', '.join(str(n.pid) for n in cs.nodes)}, user {cs.user or 'current'})")
            return 0
        state = node.up(port=args.port, heap=args.heap)
        print(f"OpenSearch {node.VERSION} is up at {state.url} (pid {state.pid}, user {state.user or 'current'})")
        return 0
    if args.op == "down":
        from viewrank.adapters.opensearch import cluster

        stopped = node.down()
        cluster.ClusterState.path(node.cache_root()).unlink(missing_ok=True)
        print(f"stopped {stopped} OpenSearch node{'s' if stopped != 1 else ''}" if stopped else "no node was running")
        return 0
    if args.op == "setup":
        s = workflow.setup(args.url, args.serve_url, args.index, args.token, args.data_type, replace=args.replace,
                           embedder_export=args.embedder_export, reranker_export=args.reranker_export,
                           combination=args.combination, rank_constant=args.rank_constant,
                           rerank_field=args.rerank_field, remove_rerank_field=args.remove_rerank_field,
                           keep_previous_score=args.keep_previous_score, vector_mode=args.vector_mode,
                           compression=args.compression, shards=args.shards, replicas=args.replicas)
        print(json.dumps(asdict(s), indent=2))
        return 0
    if args.op == "register-local":
        from viewrank.adapters.opensearch import client as C

        os_client = C.connect(workflow.node_url(args.url))
        C.configure_ml(os_client)
        model_id = C.register_local_model(os_client, args.export_dir, name=args.name)
        print(json.dumps({"model_id": model_id, "export_dir": args.export_dir}))
        return 0
    if args.op == "verify-local":
        from viewrank.adapters.opensearch import client as C
        from viewrank.adapters.opensearch.verify_local import verify_local
        from viewrank.runs import atomic_write_text

        context.settings.apply_threads()
        os_client = C.connect(workflow.node_url(args.url))
        C.configure_ml(os_client)
        report = verify_local(os_client, args.export_dir, args.model, args.parity_data, args.parity_queries,
                              name=args.name, host=context.host)
        if args.report:
            atomic_write_text(args.report, json.dumps(report, indent=2) + "\n")
        rep = report["report"]
        print(f"{args.export_dir}: {'ok' if report['passed'] else 'FAILED'} in the node ({report['function']}, "
              f"{report['variant']}, model {report['model_id']}): max|diff| {rep['max_abs_diff']:.3g}, "
              f"min tau {rep['min_kendall_tau']:.4f}, nDCG@10 torch {rep['ndcg10_torch']:.4f} "
              f"node {rep['ndcg10_onnx']:.4f} on {report['queries']} queries")
        for failure in report["failures"]:
            print(f"  {failure}")
        return 0 if report["passed"] else 1
    if args.op == "ingest":
        report = workflow.ingest(args.index, args.dataset, args.limit)
        print(f"indexed {report.indexed}, failed {len(report.failed)}, retries {report.retries}, {report.seconds:.1f} s")
        for docid, reason in list(report.failed.items())[:20]:
            print(f"  failed {docid}: {reason}")
        if report.failed:
            raise ViewrankError(f"{len(report.failed)} documents failed to ingest (listed above); fix the cause "
                                "and run ingest again: documents are written by id, so nothing is duplicated")
        return 0
    from viewrank.adapters.pyserini.evaluate import evaluate_run
    from viewrank.datasets import BeirDataset

    if args.op == "search":
        path, lat = workflow.search_run(args.index, args.dataset, args.split, args.mode, args.hits, args.output,
                                        resume=args.resume, limit=args.limit)
        ds = BeirDataset(args.dataset)
        judged = ds.qrels(args.split)
        queries = [q.qid for q in ds.queries(args.split)][: args.limit] if args.limit else list(judged)
        metrics = evaluate_run(path, {qid: judged[qid] for qid in queries if qid in judged})
        lat_ms = sorted(x * 1000 for x in lat)
        extra = f"  p50 {lat_ms[len(lat_ms) // 2]:.1f} ms  p95 {lat_ms[int(len(lat_ms) * 0.95) - 1 if len(lat_ms) > 1 else 0]:.1f} ms" if lat_ms else ""
        print(f"{args.mode:<8} {_table(metrics)}{extra}  {path}")
        return 0
    if args.op == "eval":
        print(_table(evaluate_run(args.run, BeirDataset(args.dataset).qrels(args.split))))
        return 0
    raise ViewrankError(f"unknown operation {args.op!r}")
