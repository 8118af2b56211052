"""Numbers per Pyomo component (duals, reduced costs) held as one array in the solver's order.

:class:`ComponentValues` is the read-only mapping :func:`power.solve.solve` returns for duals
and reduced costs. Building a dict or ``ComponentMap`` element by element at a million
columns costs seconds (mostly garbage-collector passes over the model); this keeps the
solver's arrays and builds the lookup table only on the first lookup by component.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from itertools import repeat
from typing import Any

import numpy as np
from pyomo.common.gc_manager import PauseGC


class ComponentValues(Mapping):
    """Read-only mapping component data -> float over ``keys`` and ``values`` (same order).

    Lookups are by identity, as in Pyomo's ``ComponentMap``. ``keys`` / ``values`` give the
    solver's order; :meth:`array` looks up many components at once.
    """

    __slots__ = ("_keys", "_values", "_pos")

    def __init__(self, keys: Sequence[Any], values: np.ndarray | Sequence[float]) -> None:
        self._keys = list(keys)
        self._values = np.asarray(values, dtype=float)
        if len(self._keys) != len(self._values):
            raise ValueError(f"{len(self._keys)} keys but {len(self._values)} values")
        self._pos: dict[int, int] | None = None

    def _positions(self) -> dict[int, int]:
        if self._pos is None:
            with PauseGC():
                self._pos = {id(k): i for i, k in enumerate(self._keys)}
        return self._pos

    def __getitem__(self, key: Any) -> float:
        i = self._positions().get(id(key))
        if i is None:
            raise KeyError(key)
        return float(self._values[i])

    def get(self, key: Any, default: Any = None) -> Any:
        i = self._positions().get(id(key))
        return default if i is None else float(self._values[i])

    def __contains__(self, key: object) -> bool:
        return id(key) in self._positions()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    def items(self) -> ItemsView:
        return _Items(self)

    def values(self) -> ValuesView:
        return _Values(self)

    def array(self, components: Iterable[Any], default: float = 0.0) -> np.ndarray:
        """Values of ``components`` in their order (``default`` for components not held)."""
        pos = self._positions()
        with PauseGC():
            idx = np.fromiter(map(pos.get, map(id, components), repeat(-1)), dtype=np.int64)
        out = np.full(len(idx), float(default))
        hit = idx >= 0
        out[hit] = self._values[idx[hit]]
        return out

    def __repr__(self) -> str:
        return f"ComponentValues({len(self)} values)"


class _Items(ItemsView):
    def __iter__(self) -> Iterator[tuple[Any, float]]:
        m = self._mapping
        return zip(m._keys, m._values.tolist(), strict=True)


class _Values(ValuesView):
    def __iter__(self) -> Iterator[float]:
        return iter(self._mapping._values.tolist())
