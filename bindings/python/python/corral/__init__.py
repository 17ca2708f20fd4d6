"""Corral's Python client, in kazoo's shape: ``from corral import Client as KazooClient``.

Every behaviour lives in the Rust core (``corral._native``); this package adds
named tuples, context managers and the kazoo spellings."""

import atexit

from . import _native
from .client import (
    ACL,
    CREATOR_ALL_ACL,
    Barrier,
    OPEN_ACL_UNSAFE,
    Client,
    Election,
    Id,
    KazooState,
    Lock,
    Permissions,
    Semaphore,
    Transaction,
    WatchedEvent,
    ZnodeStat,
)
from .exceptions import *  # noqa: F401,F403
from .exceptions import __all__ as _exception_names

__all__ = [
    "ACL",
    "Barrier",
    "CREATOR_ALL_ACL",
    "OPEN_ACL_UNSAFE",
    "Id",
    "Permissions",
    "Election",
    "Semaphore",
    "Client",
    "KazooState",
    "Lock",
    "Transaction",
    "WatchedEvent",
    "ZnodeStat",
    *_exception_names,
]

# Before the interpreter finalizes, stop Rust threads from calling into
# Python (watch callbacks, listeners, asyncio completions): attaching to a
# finalizing interpreter crashes it.
atexit.register(_native._shutdown)
