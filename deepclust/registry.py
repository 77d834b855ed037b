"""Registries: a dict behind a decorator. Every API accepts a registered name or the object itself."""
from __future__ import annotations

from typing import Any, Callable

from .errors import UserError


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        def deco(obj: Any) -> Any:
            if name in self._items:
                raise ValueError(f"{self.kind} '{name}' registered twice")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name_or_obj: Any) -> Any:
        if not isinstance(name_or_obj, str):
            return name_or_obj
        try:
            return self._items[name_or_obj]
        except KeyError:
            raise UserError(
                f"unknown {self.kind} '{name_or_obj}': use one of {', '.join(sorted(self._items))}"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: str) -> bool:
        return name in self._items

    def items(self):
        return sorted(self._items.items())


ENCODERS = Registry("encoder")
LOSSES = Registry("loss")
REFRESHERS = Registry("refresher")
METHODS = Registry("method")
