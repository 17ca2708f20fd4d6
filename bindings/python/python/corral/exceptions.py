"""Exception classes, as ``kazoo.exceptions``: one per ZooKeeper error code
(kazoo's names) under ``ZookeeperError``, plus the client-side ones. They are
made by the native module from the error table; this module only exposes them."""

from ._native import EXCEPTIONS as _EXCEPTIONS

globals().update(_EXCEPTIONS)
__all__ = sorted(_EXCEPTIONS)
