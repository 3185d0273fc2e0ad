"""A local multi-node OpenSearch cluster on loopback, and the faults its tests inject.

``viewrank opensearch up --nodes N`` (N >= 2) starts N nodes of the same assembled distribution
as the single node (:mod:`viewrank.adapters.opensearch.node`), each with its own config folder
(``OPENSEARCH_PATH_CONF``), data and log paths and loopback ports, all cluster-manager eligible,
data, ingest and ml-commons nodes, formed into one cluster ``viewrank-cluster``. Indexes created
on it get one replica (see :func:`viewrank.adapters.opensearch.client.create_index`), so any one
node can die without losing a document.

Everything lives under ``<cache>/cluster``; ``state.json`` there records each node's ports and
pid, so a node killed by a fault test is restarted on the same ports and data path.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from viewrank.adapters.opensearch import node as N
from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object
from viewrank.runs import atomic_write_text

CLUSTER_NAME = "viewrank-cluster"
MAX_NODES = 9


@dataclass
class ClusterNode:
    name: str
    port: int
    transport_port: int
    conf: str
    data: str
    logs: str
    pidfile: str
    pid: int = -1

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class ClusterState:
    nodes: list[ClusterNode] = field(default_factory=list)
    home: str = ""
    user: str = ""
    heap: str = "1g"

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated: what :func:`client.connect` takes, so requests fail
        over to the other nodes when one is down."""
        return ",".join(n.url for n in self.nodes)

    @staticmethod
    def path(root: Path) -> Path:
        return root / "cluster" / "state.json"

    def save(self, root: Path) -> None:
        atomic_write_text(self.path(root), json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, root: Path) -> "ClusterState | None":
        path = cls.path(root)
        if not path.is_file():
            return None
        data = read_json_object(path, what="cluster state")
        return cls(nodes=[ClusterNode(**n) for n in data.pop("nodes")], **data)


def _formed(state: ClusterState, size: int, among: list[ClusterNode] | None = None) -> bool:
    """True when a node of ``among`` (default: all) sees a cluster of ``size`` nodes, yellow or green."""
    for node in among or state.nodes:
        h = N.cluster_health(node.url)
        if h and h.get("number_of_nodes") == size and h.get("status") in ("green", "yellow"):
            return True
    return False


def _config(node: ClusterNode, nodes: list[ClusterNode]) -> str:
    seeds = ", ".join(f'"127.0.0.1:{n.transport_port}"' for n in nodes)
    managers = ", ".join(f'"{n.name}"' for n in nodes)
    return (f"cluster.name: {CLUSTER_NAME}\nnode.name: {node.name}\n"
            f"network.host: 127.0.0.1\nhttp.port: {node.port}\ntransport.port: {node.transport_port}\n"
            f"discovery.seed_hosts: [{seeds}]\ncluster.initial_cluster_manager_nodes: [{managers}]\n"
            f"path.data: {node.data}\npath.logs: {node.logs}\n"
            + N.LOCAL_SETTINGS +
            # a model deployed on every node is loaded again on a node that comes back
            "plugins.ml_commons.model_auto_redeploy.enable: true\n")


def _wait(state: ClusterState, size: int, wait: float, what: str) -> None:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if _formed(state, size):
            return
        for node in state.nodes:
            pid = _read_pid(node)
            if pid > 0 and not N._alive(pid):
                raise ViewrankError(f"{what}: node {node.name} exited while starting; log "
                                    f"{Path(node.logs) / (CLUSTER_NAME + '.log')}:\n{_tail(node)}")
        time.sleep(1.0)
    raise ViewrankError(f"{what}: the cluster did not reach {size} nodes within {wait:.0f} s; "
                        f"logs under {Path(state.nodes[0].logs).parent}:\n{_tail(state.nodes[0])}")


def _tail(node: ClusterNode, lines: int = 20) -> str:
    log = Path(node.logs) / f"{CLUSTER_NAME}.log"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.is_file() else "(no log)"


def _read_pid(node: ClusterNode) -> int:
    path = Path(node.pidfile)
    try:
        return int(path.read_text().strip() or -1)
    except (OSError, ValueError):
        return -1


def up(nodes: int = 3, root: Path | None = None, heap: str = "1g", wait: float = 300.0) -> ClusterState:
    """Start (or reuse) a cluster of ``nodes`` nodes on 127.0.0.1; returns once all have joined."""
    if not 2 <= nodes <= MAX_NODES:
        raise ViewrankError(f"--nodes {nodes}: a local cluster has 2 to {MAX_NODES} nodes (1 is `viewrank opensearch up`)")
    root = root or N.cache_root()
    root.mkdir(parents=True, exist_ok=True)
    state = ClusterState.load(root)
    if state and len(state.nodes) == nodes and _formed(state, nodes):
        return state
    if state:  # a cluster of another size, or half-started: stop what is left of it first
        down(root)
    dist = N.assemble(root)
    base = root / "cluster"
    members = []
    for i in range(nodes):
        folder = base / f"node-{i}"
        members.append(ClusterNode(name=f"viewrank-node-{i}", port=N.free_port(), transport_port=N.free_port(),
                                   conf=str(folder / "config"), data=str(folder / "data"), logs=str(folder / "logs"),
                                   pidfile=str(folder / "opensearch.pid")))
    for member in members:
        conf = Path(member.conf)
        if conf.exists():
            shutil.rmtree(conf)
        shutil.copytree(dist / "config", conf)  # jvm.options, log4j2, keystore and the plugins' configs
        (conf / "opensearch.yml").write_text(_config(member, members))
        for folder in (member.data, member.logs):
            Path(folder).mkdir(parents=True, exist_ok=True)
        N.prepare_djl(root, Path(member.data))
    user = N.node_user()
    state = ClusterState(nodes=members, home=str(dist), user=user or "", heap=heap)
    if user:
        # the distribution too: the JVM writes logs/gc.log under it (jvm.options' relative path, the
        # launcher's working folder). A cluster started on a freshly assembled, root-owned distribution
        # failed with "Error opening log file 'logs/gc.log': Permission denied"
        (dist / "logs").mkdir(exist_ok=True)
        N._chown(dist, user)
        N._chown(base, user)
    state.save(root)
    for member in members:
        N.launch(dist, Path(member.conf), Path(member.pidfile), Path(member.logs), heap, user)
    _wait(state, nodes, wait, f"starting a {nodes}-node cluster")
    for member in members:
        member.pid = _read_pid(member)
    state.save(root)
    return state


def kill(state: ClusterState, index: int) -> int:
    """SIGKILL node ``index`` (a crash: no shutdown hooks run); returns its pid."""
    node = state.nodes[index]
    pid = _read_pid(node)
    if pid <= 0 or pid not in N.our_nodes(Path(state.home), Path(node.conf)):
        raise ViewrankError(f"node {node.name} is not running (pid file {node.pidfile})")
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while N._alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return pid


def restart(state: ClusterState, index: int, root: Path | None = None, wait: float = 300.0) -> ClusterState:
    """Start node ``index`` again on its ports and data path; returns once the cluster has all its nodes."""
    root = root or N.cache_root()
    node = state.nodes[index]
    N.launch(Path(state.home), Path(node.conf), Path(node.pidfile), Path(node.logs), state.heap, state.user or None)
    _wait(state, len(state.nodes), wait, f"restarting {node.name}")
    node.pid = _read_pid(node)
    state.save(root)
    return state


def down(root: Path | None = None, wait: float = 60.0) -> int:
    """Stop this cache's cluster nodes (found by command line, state file or not); the number stopped."""
    root = root or N.cache_root()
    stopped = N.down(root, wait, conf_under=root / "cluster")
    ClusterState.path(root).unlink(missing_ok=True)
    return stopped
