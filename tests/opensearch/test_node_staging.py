"""The node's distribution and DJL cache are written through viewrank.savedir.staged_save, offline:
Maven, the plugin installer and Java are stubbed, so no node starts (not marked opensearch)."""

from __future__ import annotations

import os
import stat
import zipfile

import pytest

from viewrank.adapters.opensearch import node
from viewrank.errors import ViewrankError


@pytest.fixture
def offline(tmp_path, monkeypatch):
    zips = tmp_path / "zips"
    zips.mkdir()
    core = zips / "core.zip"
    top = f"opensearch-{node.VERSION}"
    with zipfile.ZipFile(core, "w") as zf:
        zf.writestr(f"{top}/bin/opensearch", "#!/bin/sh\n")
        zf.writestr(f"{top}/bin/opensearch-plugin", "#!/bin/sh\n")
        zf.writestr(f"{top}/config/opensearch.yml", "")
        zf.writestr(f"{top}/modules/lang-painless/plugin-descriptor.properties", "name=lang-painless\n")
    monkeypatch.setattr(node, "fetch", lambda root: {"core": core, **{a: zips / f"{a}.zip" for _, a in node.PLUGINS}})
    monkeypatch.setattr(node, "java_home", lambda: tmp_path / "jdk")
    installed = []

    def fake_run(cmd, what, **kw):  # what `opensearch-plugin install` leaves: files, one executable
        dist = os.path.dirname(os.path.dirname(cmd[0]))
        name = what.split()[-1]
        if name == "opensearch-knn" and os.environ.get("FAIL_INSTALL"):
            raise ViewrankError("installing opensearch-knn failed")
        os.makedirs(f"{dist}/plugins/{name}/bin", exist_ok=True)
        with open(f"{dist}/plugins/{name}/bin/tool", "w") as fh:
            fh.write("#!/bin/sh\n")
        os.chmod(f"{dist}/plugins/{name}/bin/tool", 0o755)
        installed.append(name)

    monkeypatch.setattr(node, "_run", fake_run)
    return installed


def test_assembled_distribution_keeps_its_executables(tmp_path, offline):
    root = tmp_path / "root"
    root.mkdir()
    dist = node.assemble(root)
    assert dist == root / "dist" and (dist / ".viewrank-assembled").read_text() == node.VERSION
    assert offline == [a for _, a in node.PLUGINS]
    for script in ("bin/opensearch", "bin/opensearch-plugin", "plugins/opensearch-knn/bin/tool"):
        assert os.access(dist / script, os.X_OK), script
    assert not stat.S_IXUSR & (dist / "config" / "opensearch.yml").stat().st_mode
    assert sorted(p.name for p in root.iterdir()) == ["dist"]  # no staging folder left
    assert node.assemble(root) == dist and len(offline) == len(node.PLUGINS)  # built once


def test_failed_assembly_leaves_nothing(tmp_path, offline, monkeypatch):
    monkeypatch.setenv("FAIL_INSTALL", "1")
    root = tmp_path / "root"
    root.mkdir()
    with pytest.raises(ViewrankError, match="opensearch-knn"):
        node.assemble(root)
    assert list(root.iterdir()) == []


def test_djl_cache_is_staged(tmp_path, monkeypatch):
    jars = {}
    for coords, members in ((node.DJL_TORCH, {"pytorch/cpu/linux-x86_64/libtorch.so": b"t"}),
                            (node.DJL_JNI, {"jnilib/linux-x86_64/cpu/libdjl_torch.so": b"j"})):
        path = tmp_path / f"{coords[1]}.jar"
        with zipfile.ZipFile(path, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        jars[coords[1]] = path
    monkeypatch.setattr(node, "_mvn_copy", lambda folder, group, artifact, *rest: jars[artifact])
    data = tmp_path / "data"
    target = node.prepare_djl(tmp_path, data)
    assert target == data / node.DJL_TORCH_DIR and (target / ".viewrank-ready").is_file()
    assert (target / "libtorch.so").read_bytes() == b"t"
    assert (target / f"{node.DJL_ENGINE_VERSION}-libdjl_torch.so").read_bytes() == b"j"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]
