"""Assemble, start and stop a single OpenSearch node offline, from Maven Central artifacts.

What gets assembled (cached under ``~/.cache/viewrank/opensearch/<version>``):

- the core ``org.opensearch.distribution.integ-test-zip:opensearch`` zip (it carries only the
  transport module, no bundled JDK);
- ``modules/lang-painless`` built from its Maven jars with a plugin descriptor and security
  policy, because k-NN extends lang-painless;
- the plugin zips ``opensearch-job-scheduler``, ``opensearch-ml-plugin``, ``opensearch-knn`` and
  ``neural-search`` (that is the artifact id on Maven Central, not ``opensearch-neural-search``),
  installed offline in extendedPlugins order.

The node binds 127.0.0.1 only, runs as a non-root user (OpenSearch refuses root), and keeps
its data and logs in the cache folder. Version 2.19.1 runs on Java 17-23 (2.x needs the Java
security manager, gone in Java 24+); :func:`java_home` prefers the 17 it is tested on.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from viewrank.adapters.java import find_java
from viewrank.errors import ViewrankError
from viewrank.jsonfile import read_json_object
from viewrank.runs import atomic_write_text, default_mode
from viewrank.savedir import staged_save

VERSION = "2.19.1"
PLUGIN_VERSION = f"{VERSION}.0"
CORE = ("org.opensearch.distribution.integ-test-zip", "opensearch", VERSION)
# (group, artifact) in install order: ml extends job-scheduler, neural-search extends k-NN.
PLUGINS = [
    ("org.opensearch.plugin", "opensearch-job-scheduler"),
    ("org.opensearch.plugin", "opensearch-ml-plugin"),
    ("org.opensearch.plugin", "opensearch-knn"),
    ("org.opensearch.plugin", "neural-search"),
]
PAINLESS_JAR_PREFIXES = ("lang-painless-", "opensearch-scripting-painless-spi-", "antlr4-runtime-", "asm-")
JAVA_RANGE = (17, 23)  # the Java security manager 2.x needs is gone in 24
JAVA_PREFERRED = 17  # the version the opensearch tests run on
JAVA_HOME_ENV = "VIEWRANK_OPENSEARCH_JAVA_HOME"  # when set, the only JDK considered
NODE_USER = "viewrank-os"

PAINLESS_DESCRIPTOR = """description=An easy, safe and fast scripting language for OpenSearch
version={version}
name=lang-painless
classname=org.opensearch.painless.PainlessPlugin
java.version=11
opensearch.version={version}
extended.plugins=
has.native.controller=false
"""
PAINLESS_POLICY = """grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
"""


# ml-commons deploys local (ONNX) models on DJL, whose ONNX Runtime engine still loads PyTorch
# for NDArray work (expandDims, pooling). DJL would download libtorch and its JNI from
# publish.djl.ai. Offline we unpack them from Maven Central into ml-commons' DJL cache instead:
# libtorch 2.5.1 (DJL 0.31.1's, the one in ml-commons 2.19) and the JNI of DJL 0.32.0 (0.31.1's
# is not on Maven Central; 0.32.0's works with the 0.31.1 engine, checked by the opensearch
# tests). ml-commons forces PYTORCH_VERSION=1.13.1 and PYTORCH_PRECXX11=true as Java properties;
# DJL reads the environment variable first, so PYTORCH_VERSION=2.5.1 in the node's environment
# wins, and the cxx11 build goes in the folder DJL's precxx11 flag names.
DJL_TORCH = ("ai.djl.pytorch", "pytorch-native-cpu", "2.5.1", "jar", "linux-x86_64")
DJL_JNI = ("ai.djl.pytorch", "pytorch-jni", "2.5.1-0.32.0", "jar")
DJL_ENGINE_VERSION = "0.31.1"
DJL_TORCH_DIR = f"ml_cache/pytorch/{DJL_TORCH[2]}-cpu-precxx11-linux-x86_64"


def cache_root(version: str = VERSION) -> Path:
    """Where the node lives: ``$VIEWRANK_CACHE``, else ``~/.cache/viewrank`` — or, for root,
    ``/var/cache/viewrank``, because the node's own user cannot enter root's home."""
    default = Path("/var/cache/viewrank") if os.geteuid() == 0 else Path.home() / ".cache" / "viewrank"
    base = Path(os.environ.get("VIEWRANK_CACHE", default))
    return base / "opensearch" / version


@dataclass
class NodeState:
    url: str
    port: int
    pid: int
    home: str
    data: str
    user: str

    @classmethod
    def load(cls, root: Path) -> "NodeState | None":
        path = root / "state.json"
        return cls(**read_json_object(path, what="node state")) if path.is_file() else None


INSTALL_HINTS = {"mvn": "Maven (mvn) fetches OpenSearch from Maven Central: apt-get install maven"}


def _run(cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess:
    if shutil.which(cmd[0]) is None:
        raise ViewrankError(f"{what}: {cmd[0]} is not on PATH. {INSTALL_HINTS.get(cmd[0], '')}".strip())
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-12:])
        raise ViewrankError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd[:4])} ...\n{tail}")
    return proc


def java_home() -> Path:
    """The JDK the node runs on: ``$VIEWRANK_OPENSEARCH_JAVA_HOME``, else a Java 17-23 found by
    :func:`viewrank.adapters.java.find_java` (17 preferred; the Pyserini adapter's 21+ is not asked)."""
    return find_java(*JAVA_RANGE, prefer_major=JAVA_PREFERRED, override_env=JAVA_HOME_ENV,
                     needed_by=f"OpenSearch {VERSION}").path


def fetch(root: Path) -> dict[str, Path]:
    """The core and plugin zips, downloaded once with ``mvn dependency:copy`` (no pom needed)."""
    zips = root / "zips"
    zips.mkdir(parents=True, exist_ok=True)
    out = {"core": _mvn_copy(zips, *CORE, "zip")}
    for group, artifact in PLUGINS:
        out[artifact] = _mvn_copy(zips, group, artifact, PLUGIN_VERSION, "zip")
    return out


def _mvn_copy(folder: Path, group: str, artifact: str, version: str, packaging: str, classifier: str = "") -> Path:
    """One Maven Central artifact in ``folder``, downloaded once with ``mvn dependency:copy``."""
    suffix = f"-{classifier}" if classifier else ""
    target = folder / f"{artifact}-{version}{suffix}.{packaging}"
    if not target.is_file():
        coords = ":".join([group, artifact, version, packaging] + ([classifier] if classifier else []))
        _run(["mvn", "-q", "-B", "dependency:copy", f"-Dartifact={coords}", f"-DoutputDirectory={folder}"],
             f"downloading {coords} from Maven Central")
    return target


def _executables(root: Path) -> list[Path]:
    """Files under ``root`` with an execute bit, relative to it."""
    return [p.relative_to(root) for p in root.rglob("*")
            if p.is_file() and not p.is_symlink() and p.stat().st_mode & 0o111]


def build_painless_module(dist: Path, version: str = VERSION) -> Path:
    """``modules/lang-painless`` from Maven jars: the integ-test zip does not carry it."""
    module = dist / "modules" / "lang-painless"
    if (module / "plugin-descriptor.properties").is_file():
        return module
    with tempfile.TemporaryDirectory(prefix="viewrank-painless-") as tmp:
        pom = Path(tmp) / "pom.xml"
        pom.write_text(
            '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
            "<groupId>viewrank</groupId><artifactId>painless</artifactId><version>1</version><dependencies>"
            f"<dependency><groupId>org.opensearch.plugin</groupId><artifactId>lang-painless</artifactId>"
            f"<version>{version}</version></dependency></dependencies></project>"
        )
        jars = Path(tmp) / "jars"
        _run(["mvn", "-q", "-B", "-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime",
              f"-DoutputDirectory={jars}"], "fetching lang-painless jars")
        staging = Path(tmp) / "lang-painless"
        staging.mkdir()
        for jar in jars.glob("*.jar"):
            if jar.name.startswith(PAINLESS_JAR_PREFIXES):
                shutil.copy2(jar, staging / jar.name)
        (staging / "plugin-descriptor.properties").write_text(PAINLESS_DESCRIPTOR.format(version=version))
        (staging / "plugin-security.policy").write_text(PAINLESS_POLICY)
        shutil.copytree(staging, module)
    return module


def prepare_djl(root: Path, data: Path) -> Path:
    """libtorch and DJL's JNI in ml-commons' DJL cache (``data/ml_cache``), so local models deploy
    offline; done once (a marker file), written to a temp folder first, then renamed."""
    target = data / DJL_TORCH_DIR
    if (target / ".viewrank-ready").is_file():
        return target
    zips = root / "zips"
    zips.mkdir(parents=True, exist_ok=True)
    torch_jar, jni_jar = _mvn_copy(zips, *DJL_TORCH), _mvn_copy(zips, *DJL_JNI)

    def write(staging: Path) -> None:
        with zipfile.ZipFile(torch_jar) as zf:
            libs = [n for n in zf.namelist() if n.startswith("pytorch/cpu/linux-x86_64/") and not n.endswith("/")]
            if not libs:
                raise ViewrankError(f"{torch_jar} holds no pytorch/cpu/linux-x86_64 libraries")
            for name in libs:
                (staging / Path(name).name).write_bytes(zf.read(name))
        with zipfile.ZipFile(jni_jar) as zf:
            (staging / f"{DJL_ENGINE_VERSION}-libdjl_torch.so").write_bytes(zf.read("jnilib/linux-x86_64/cpu/libdjl_torch.so"))
        (staging / ".viewrank-ready").write_text(f"{DJL_TORCH[2]} + jni {DJL_JNI[2]}\n")

    return staged_save(target, write, replace=True)


def assemble(root: Path | None = None) -> Path:
    """The node's distribution folder with every plugin installed; built once, then reused."""
    root = root or cache_root()
    dist = root / "dist"
    if (dist / ".viewrank-assembled").is_file():
        return dist
    zips = fetch(root)
    jhome = java_home()
    executables: list[Path] = []

    def write(staged: Path) -> None:
        unpacked = staged / ".unpacked"
        with zipfile.ZipFile(zips["core"]) as zf:
            zf.extractall(unpacked)
        top = next(unpacked.glob("opensearch-*"))  # the zip's one top folder becomes the distribution
        for entry in top.iterdir():
            os.replace(entry, staged / entry.name)
        shutil.rmtree(unpacked)
        for script in (staged / "bin").iterdir():
            script.chmod(0o755)
        build_painless_module(staged)
        env = {**os.environ, "OPENSEARCH_JAVA_HOME": str(jhome), "JAVA_HOME": str(jhome)}
        for _group, artifact in PLUGINS:
            _run([str(staged / "bin" / "opensearch-plugin"), "install", "--batch", zips[artifact].resolve().as_uri()],
                 f"installing {artifact}", env=env)
        executables.extend(_executables(staged))

    # staged_save gives every file the umask's plain file mode: the scripts get their execute bits
    # back before the marker that says "assembled" is written, last.
    staged_save(dist, write, replace=True)
    for rel in executables:
        (dist / rel).chmod(default_mode(directory=True))
    atomic_write_text(dist / ".viewrank-assembled", VERSION)
    return dist


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_user() -> str | None:
    """The user the node runs as: a system user when we are root (OpenSearch refuses root)."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(NODE_USER)
    except KeyError:
        _run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", NODE_USER],
             f"creating the user {NODE_USER}")
    return NODE_USER


def _chown(path: Path, user: str) -> None:
    _run(["chown", "-R", f"{user}:", str(path)], f"giving {path} to {user}")


def cluster_health(url: str, timeout: float = 2.0) -> dict | None:
    """``_cluster/health`` of the node at ``url`` (one URL), or None when it does not answer."""
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url}/_cluster/health", timeout=timeout) as resp:
            return json.loads(resp.read())
    except Exception:
        return None


def health(url: str, timeout: float = 2.0) -> str | None:
    """The cluster status ("green", "yellow", "red") the node at ``url`` reports, or None."""
    return (cluster_health(url, timeout) or {}).get("status")


# settings every local node gets (one node or a cluster): no disk watermarks, models on any node,
# and ml-commons' memory breakers off: they compare heap and system memory use (garbage not yet
# collected included) with a threshold and refuse model deploys on a small heap or a busy machine
LOCAL_SETTINGS = (
    "cluster.routing.allocation.disk.threshold_enabled: false\n"
    "plugins.ml_commons.only_run_on_ml_node: false\n"
    "plugins.ml_commons.native_memory_threshold: 100\n"
    "plugins.ml_commons.jvm_heap_memory_threshold: 100\n"
)


def up(port: int | None = None, root: Path | None = None, heap: str = "1g", wait: float = 180.0) -> NodeState:
    """Start the node (assembling it first if needed); reuse a node that is already running."""
    root = root or cache_root()
    root.mkdir(parents=True, exist_ok=True)
    state = NodeState.load(root)
    if state and health(state.url) in ("green", "yellow"):
        return state
    dist = assemble(root)
    port = port or free_port()
    data, logs = root / "data", root / "logs"
    for folder in (data, logs):
        folder.mkdir(exist_ok=True)
    prepare_djl(root, data)
    config = dist / "config" / "opensearch.yml"
    config.write_text(
        "cluster.name: viewrank\nnode.name: viewrank-node\n"
        f"network.host: 127.0.0.1\nhttp.port: {port}\ntransport.port: {free_port()}\n"
        "discovery.type: single-node\n"
        f"path.data: {data}\npath.logs: {logs}\n"
        + LOCAL_SETTINGS
    )
    pidfile = root / "opensearch.pid"
    user = node_user()
    if user:
        _chown(root, user)
    launch(dist, dist / "config", pidfile, logs, heap, user)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + wait
    log = logs / "viewrank.log"
    while time.monotonic() < deadline:
        pid = int(pidfile.read_text().strip() or -1) if pidfile.is_file() else -1
        if health(url) in ("green", "yellow"):
            state = NodeState(url, port, pid, str(dist), str(data), user or "")
            atomic_write_text(root / "state.json", json.dumps(asdict(state), indent=2))
            return state
        if pid > 0 and not _alive(pid):
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.is_file() else "(no log)"
            raise ViewrankError(f"OpenSearch exited while starting; log {log}:\n{tail}")
        time.sleep(1.0)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.is_file() else "(no log)"
    raise ViewrankError(f"OpenSearch did not become healthy on {url} within {wait:.0f} s; log {log}:\n{tail}")


def launch(dist: Path, conf: Path, pidfile: Path, logs: Path, heap: str, user: str | None) -> None:
    """Start one node of ``dist`` as a daemon with its config folder ``conf`` (``OPENSEARCH_PATH_CONF``:
    every node of a cluster has its own), writing its pid to ``pidfile``; errors name the log."""
    pidfile.unlink(missing_ok=True)
    jhome = java_home()
    env = {**os.environ, "OPENSEARCH_JAVA_HOME": str(jhome), "JAVA_HOME": str(jhome), "OPENSEARCH_PATH_CONF": str(conf),
           "OPENSEARCH_JAVA_OPTS": f"-Xms{heap} -Xmx{heap} -Dai.djl.offline=true", "PYTORCH_VERSION": DJL_TORCH[2]}
    cmd = [str(dist / "bin" / "opensearch"), "-d", "-p", str(pidfile)]
    if user:
        cmd = ["runuser", "-u", user, "--", *cmd]
    # The daemon keeps its stdout/stderr open: send them to a file, never to our pipes.
    with open(logs / "startup.out", "wb") as out:
        code = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    if code != 0:
        text = (logs / "startup.out").read_text(errors="replace").strip().splitlines()[-15:]
        raise ViewrankError(f"starting OpenSearch failed (exit {code}); {logs / 'startup.out'}:\n" + "\n".join(text))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def our_nodes(dist: Path, conf_under: Path | None = None) -> list[int]:
    """Pids of the running OpenSearch JVMs launched from ``dist`` (the distribution viewrank
    assembled), found by their command line, so a node whose state file a crashed run never wrote
    is found too, and a pid reused by another process is never taken for a node. ``conf_under``:
    only nodes whose config folder lies under it (one cluster's nodes)."""
    home = f"-Dopensearch.path.home={dist}".encode()
    conf = f"-Dopensearch.path.conf={conf_under}".encode() if conf_under else None
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if home in args and (conf is None or any(a.startswith(conf) for a in args)):
            pids.append(int(entry.name))
    return sorted(pids)


def stop(pids: list[int], wait: float = 60.0) -> None:
    """SIGTERM each pid, then SIGKILL what is still alive after ``wait`` seconds."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.5)
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


def down(root: Path | None = None, wait: float = 60.0, conf_under: Path | None = None) -> int:
    """Stop every node viewrank started from this cache (the single node, a cluster's nodes, and
    any left behind by a crashed run); the number stopped. ``conf_under`` narrows it to the
    nodes whose config lies there (see :func:`our_nodes`)."""
    root = root or cache_root()
    pids = our_nodes(root / "dist", conf_under)
    stop(pids, wait)
    if conf_under is None or conf_under == root / "dist" / "config":
        (root / "state.json").unlink(missing_ok=True)
    return len(pids)
