"""Results of pure functions of immutable syntax trees and IR, remembered by the identity of their arguments.

A block's body is read at every call of the block, and a cached network's IR at every build: the trees never
change, so what a function found in one it finds again. An entry keeps its arguments alive, so an id in a key
stays theirs; only the entries used last are kept.
"""

from __future__ import annotations

import functools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def by_identity(kept: int) -> Callable[[F], F]:
    """Remembers the results of the ``kept`` calls used last, by the identity of every argument."""

    def remember(function: F) -> F:
        seen: OrderedDict[tuple[int, ...], tuple[tuple[Any, ...], Any]] = OrderedDict()

        @functools.wraps(function)
        def remembered(*args: Any) -> Any:
            key = tuple(map(id, args))
            entry = seen.get(key)
            if entry is not None:
                seen.move_to_end(key)
                return entry[1]
            result = function(*args)
            seen[key] = (args, result)
            if len(seen) > kept:
                seen.popitem(last=False)
            return result

        return remembered  # type: ignore[return-value]

    return remember
