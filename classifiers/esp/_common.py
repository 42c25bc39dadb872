"""Helpers the ESP plug-ins share: typed access to loosely shaped JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping

__all__ = ["as_dict", "as_list", "text", "unwrap_string"]


def as_dict(value: object) -> Mapping[str, object]:
    """``value`` if it is a JSON object, else an empty one."""
    if isinstance(value, Mapping):
        return value
    return {}


def as_list(value: object) -> list[object]:
    """``value`` if it is a JSON array, else an empty one."""
    return list(value) if isinstance(value, list) else []


def text(value: object) -> str:
    """A JSON scalar as text (``""`` for null, objects and arrays)."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or value is None or isinstance(value, (dict, list)):
        return ""
    return str(value)


def unwrap_string(value: object) -> object:
    """A JSON document held in a string (SNS's ``Message``), decoded; else ``value``."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value
