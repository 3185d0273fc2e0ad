import pytest

from viewrank.errors import UnknownNameError, ViewrankError
from viewrank.registry import KindRegistrar, Registry, parse_spec


def make_registry():
    reg = Registry()
    KindRegistrar(reg, "reranker", "p1").add("alpha", lambda arg: ("alpha", arg), arg_help="DIR", description="a")
    KindRegistrar(reg, "reranker", "p2").add("beta", lambda arg: ("beta", arg))
    return reg


def test_parse_spec():
    assert parse_spec("none") == ("none", None)
    assert parse_spec("mvp:models/x") == ("mvp", "models/x")
    assert parse_spec("onnx:/a:b") == ("onnx", "/a:b")
    assert parse_spec("dense:") == ("dense", None)
    with pytest.raises(ViewrankError, match="empty model name"):
        parse_spec(":dir")


def test_create_passes_the_argument_to_the_factory():
    reg = make_registry()
    assert reg.create("reranker", "alpha:some/dir") == ("alpha", "some/dir")
    assert reg.create("reranker", "beta") == ("beta", None)
    assert reg.get("reranker", "alpha").plugin == "p1"


def test_unknown_name_lists_what_is_available():
    reg = make_registry()
    with pytest.raises(UnknownNameError) as err:
        reg.get("reranker", "gamma")
    assert "unknown reranker 'gamma'" in str(err.value)
    assert "alpha:DIR" in str(err.value) and "beta" in str(err.value)
    with pytest.raises(UnknownNameError, match=r"\(none registered\)"):
        reg.get("embedder", "x")


def test_duplicate_names_name_both_plugins():
    reg = make_registry()
    with pytest.raises(ViewrankError, match="registered twice: by plugin 'p1' and by plugin 'p3'"):
        KindRegistrar(reg, "reranker", "p3").add("alpha", lambda arg: None)


def test_bad_names_and_kinds_are_rejected():
    reg = Registry()
    with pytest.raises(ValueError, match="no ':'"):
        KindRegistrar(reg, "reranker", "p").add("a:b", lambda arg: None)
    with pytest.raises(ValueError, match="unknown kind"):
        reg.get("ranker", "x")
