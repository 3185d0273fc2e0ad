"""One Java finder (viewrank.adapters.java) for both adapters: Pyserini asks for 21+, the OpenSearch
node for 17-23 (17 preferred); JAVA_HOME, VIEWRANK_JVM_ROOT and VIEWRANK_OPENSEARCH_JAVA_HOME work.
Fake JDK folders (a ``release`` file and ``bin/java``): no JVM starts."""

from __future__ import annotations

import pytest

from viewrank.adapters.java import candidates, find_java
from viewrank.errors import ViewrankError


def fake_jdk(root, name, version):
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'IMPLEMENTOR="test"\nJAVA_VERSION="{version}"\n')
    return home


@pytest.fixture
def jvms(tmp_path, monkeypatch):
    root = tmp_path / "jvm"
    homes = {v: fake_jdk(root, f"jdk-{v}", f"{v}.0.1") for v in (17, 21, 25)}
    (root / "java-1.17.0-alias").symlink_to(homes[17])  # Debian's second name for the same JDK
    monkeypatch.setenv("VIEWRANK_JVM_ROOT", str(root))
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.delenv("VIEWRANK_OPENSEARCH_JAVA_HOME", raising=False)
    return homes


def test_newest_first_and_one_entry_per_jdk(jvms):
    assert [c.major for c in candidates()] == [25, 21, 17]
    assert find_java(21).path == jvms[25]


def test_java_home_comes_first_when_it_fits(jvms, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(jvms[21]))
    chosen = find_java(21)
    assert (chosen.path, chosen.source) == (jvms[21], "JAVA_HOME")
    monkeypatch.setenv("JAVA_HOME", str(jvms[17]))
    assert find_java(21).path == jvms[25]  # a JAVA_HOME too old for the caller is passed over


def test_opensearch_range_prefers_17_and_never_takes_24_plus(jvms, monkeypatch):
    from viewrank.adapters.opensearch import node

    assert node.java_home() == jvms[17]
    monkeypatch.setenv("JAVA_HOME", str(jvms[25]))
    assert node.java_home() == jvms[17]
    (jvms[17] / "release").unlink()  # no usable 17: 21 is in range, 25 is not
    assert node.java_home() == jvms[21]


def test_opensearch_override_is_the_only_candidate(jvms, monkeypatch, tmp_path):
    from viewrank.adapters.opensearch import node

    monkeypatch.setenv("VIEWRANK_OPENSEARCH_JAVA_HOME", str(jvms[21]))
    assert node.java_home() == jvms[21]
    monkeypatch.setenv("VIEWRANK_OPENSEARCH_JAVA_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(ViewrankError, match="VIEWRANK_OPENSEARCH_JAVA_HOME=.*has no bin/java"):
        node.java_home()
    monkeypatch.setenv("VIEWRANK_OPENSEARCH_JAVA_HOME", str(jvms[25]))
    with pytest.raises(ViewrankError, match="needs Java 17-23, but VIEWRANK_OPENSEARCH_JAVA_HOME=.* is Java 25"):
        node.java_home()


def test_none_fits_is_one_message_naming_what_was_seen(jvms, monkeypatch, tmp_path):
    with pytest.raises(ViewrankError, match=r"Pyserini needs Java 26\+ and none was found \(seen: .*Java 25"):
        find_java(26, needed_by="Pyserini")
    monkeypatch.setenv("VIEWRANK_JVM_ROOT", str(tmp_path / "empty"))
    with pytest.raises(ViewrankError, match=r"OpenSearch 2.19.1 needs Java 17-23 and none was found \(seen: none\)"):
        from viewrank.adapters.opensearch import node

        node.java_home()


def test_pyserini_keeps_its_entry_point(jvms):
    from viewrank.adapters.pyserini import java

    assert java.MIN_VERSION == 21 and java.candidates is candidates  # the shared finder underneath
