"""Error paths raise kazoo's classes, with .code and .path; the classes come
from the native error table."""

from __future__ import annotations

import pytest

import corral
import corral.exceptions as exc
from corral import _native


def test_no_node(client: corral.Client, base: str) -> None:
    for call in (
        lambda: client.get(base),
        lambda: client.set(base, b""),
        lambda: client.delete(base),
        lambda: client.get_children(base),
        lambda: client.create(base + "/child"),
        lambda: client.delete(base, recursive=True),
    ):
        with pytest.raises(corral.NoNodeError) as info:
            call()
        assert info.value.code == -101
        assert info.value.path is not None and info.value.path.startswith(base)


def test_node_exists(client: corral.Client, base: str) -> None:
    client.create(base)
    with pytest.raises(corral.NodeExistsError) as info:
        client.create(base)
    assert (info.value.code, info.value.path) == (-110, base)
    assert isinstance(info.value, corral.ZookeeperError)
    assert isinstance(info.value, corral.KazooException)


def test_bad_version(client: corral.Client, base: str) -> None:
    client.create(base)
    with pytest.raises(corral.BadVersionError) as info:
        client.set(base, b"x", version=3)
    assert (info.value.code, info.value.path) == (-103, base)
    with pytest.raises(corral.BadVersionError):
        client.delete(base, version=3)
    assert client.exists(base) is not None


def test_not_empty(client: corral.Client, base: str) -> None:
    client.create(base + "/child", makepath=True)
    with pytest.raises(corral.NotEmptyError) as info:
        client.delete(base)
    assert (info.value.code, info.value.path) == (-111, base)


def test_invalid_path(client: corral.Client) -> None:
    for bad in ("no-slash", "/trailing/", "/a//b", ""):
        with pytest.raises(corral.InvalidPathError) as info:
            client.get(bad)
        # A client-side error keeps its own class, under the code it reports.
        assert isinstance(info.value, corral.BadArgumentsError)
        assert (info.value.code, info.value.path) == (-8, bad)


def test_no_children_for_ephemerals(client: corral.Client, base: str) -> None:
    client.create(base, ephemeral=True)
    with pytest.raises(corral.NoChildrenForEphemeralsError):
        client.create(base + "/child")


def test_values_must_be_bytes(client: corral.Client, base: str) -> None:
    with pytest.raises(TypeError):
        client.create(base, "text")  # type: ignore[arg-type]


def test_calls_on_a_stopped_client_fail(hosts: str, base: str) -> None:
    c = corral.Client(hosts)
    with pytest.raises(corral.ZookeeperError) as before:
        c.exists("/")
    c.start()
    c.stop()
    with pytest.raises(corral.ZookeeperError) as after:
        c.exists("/")
    assert before.value.code == after.value.code == -116  # CLOSING


def test_bad_session_token_is_a_value_error(hosts: str) -> None:
    with pytest.raises(ValueError):
        corral.Client(hosts, session="v9:nope")


def test_every_class_of_the_table_is_exported() -> None:
    names = set(_native.EXCEPTIONS)
    # kazoo's names for the codes users catch most.
    for name in (
        "NoNodeError",
        "NodeExistsError",
        "BadVersionError",
        "NotEmptyError",
        "NoAuthError",
        "SessionExpiredError",
        "ConnectionLoss",
        "OperationTimeoutError",
        "RolledBackError",
        "LockTimeout",
    ):
        assert name in names, name
    assert set(exc.__all__) == names
    for name in names:
        cls = getattr(corral, name)
        assert cls is getattr(exc, name) is _native.EXCEPTIONS[name]
        assert issubclass(cls, corral.KazooException)
        if name not in ("KazooException", "ZookeeperError", "LockTimeout"):
            assert issubclass(cls, corral.ZookeeperError), name
            assert isinstance(cls.code, int), name
    codes = {
        cls.code
        for name, cls in _native.EXCEPTIONS.items()
        if issubclass(cls, corral.ZookeeperError) and cls.__bases__ == (corral.ZookeeperError,)
    }
    # One class per ZooKeeper code.
    assert len(codes) == len(
        [c for c in _native.EXCEPTIONS.values() if c.__bases__ == (corral.ZookeeperError,)]
    )


def test_type_stubs_match_the_native_module() -> None:
    """The .pyi files list exactly what the native module exports."""
    import ast
    from pathlib import Path

    package = Path(corral.__file__).parent
    exceptions = ast.parse((package / "exceptions.pyi").read_text())
    stub_classes = {n.name for n in exceptions.body if isinstance(n, ast.ClassDef)}
    assert stub_classes == set(_native.EXCEPTIONS)
    for node in exceptions.body:
        if isinstance(node, ast.ClassDef) and node.bases:
            base = node.bases[0]
            assert isinstance(base, ast.Name)
            actual = _native.EXCEPTIONS[node.name].__bases__[0].__name__
            assert base.id == actual, node.name
    native = ast.parse((package / "_native.pyi").read_text())
    for node in native.body:
        if isinstance(node, ast.ClassDef):
            cls = getattr(_native, node.name)
            stubbed = {f.name for f in node.body if isinstance(f, ast.FunctionDef)} - {"__init__"}
            public = {a for a in dir(cls) if not a.startswith("_")}
            assert stubbed == public, node.name
