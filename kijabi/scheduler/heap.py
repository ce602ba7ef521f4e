"""An indexed binary heap: push, update and delete by key in O(log n) (upstream internal/heap)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Heap(Generic[T]):
    """Items ordered by `sort_key(item)` (smallest first), addressed by `key(item)`.

    The sort key is computed when an item is pushed or updated; change an item's ordering fields only
    through `add_or_update`.
    """

    def __init__(self, key: Callable[[T], str], sort_key: Callable[[T], Any]) -> None:
        self._key = key
        self._sort_key = sort_key
        self._items: list[tuple[Any, T]] = []
        self._index: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    def __iter__(self) -> Iterator[T]:
        return (item for _, item in self._items)

    def get(self, key: str) -> T | None:
        i = self._index.get(key)
        return self._items[i][1] if i is not None else None

    def peek(self) -> T | None:
        return self._items[0][1] if self._items else None

    def add_or_update(self, item: T) -> None:
        k = self._key(item)
        entry = (self._sort_key(item), item)
        i = self._index.get(k)
        if i is None:
            self._items.append(entry)
            i = len(self._items) - 1
            self._index[k] = i
            self._up(i)
        else:
            self._items[i] = entry
            if not self._up(i):
                self._down(i)

    def delete(self, key: str) -> T | None:
        i = self._index.pop(key, None)
        if i is None:
            return None
        item = self._items[i][1]
        last = self._items.pop()
        if i < len(self._items):
            self._items[i] = last
            self._index[self._key(last[1])] = i
            if not self._up(i):
                self._down(i)
        return item

    def pop(self) -> T | None:
        if not self._items:
            return None
        return self.delete(self._key(self._items[0][1]))

    def _less(self, i: int, j: int) -> bool:
        return bool(self._items[i][0] < self._items[j][0])

    def _swap(self, i: int, j: int) -> None:
        items = self._items
        items[i], items[j] = items[j], items[i]
        self._index[self._key(items[i][1])] = i
        self._index[self._key(items[j][1])] = j

    def _up(self, i: int) -> bool:
        moved = False
        while i > 0:
            parent = (i - 1) // 2
            if not self._less(i, parent):
                break
            self._swap(i, parent)
            i = parent
            moved = True
        return moved

    def _down(self, i: int) -> None:
        n = len(self._items)
        while True:
            left = 2 * i + 1
            if left >= n:
                return
            child = left
            right = left + 1
            if right < n and self._less(right, left):
                child = right
            if not self._less(child, i):
                return
            self._swap(i, child)
            i = child
