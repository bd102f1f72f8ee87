"""Check a config value against its field's type annotation (``int | None``, ``tuple[int, ...]``).

Used by :func:`paa_edu.config.apply_overrides` (``--set``) and :func:`paa_edu.config.validate`.
"""
from __future__ import annotations

import types
import typing


def type_name(hint) -> str:
    """``int | None`` -> ``"int or None"``, ``tuple[int, ...]`` -> ``"a tuple of int"``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return " or ".join("None" if a is type(None) else type_name(a)
                           for a in typing.get_args(hint))
    if typing.get_origin(hint) is tuple:
        return f"a tuple of {type_name(typing.get_args(hint)[0])}"
    return getattr(hint, "__name__", str(hint))


def coerce(value, hint, key: str):
    """Check ``value`` against the field's annotation ``hint`` (e.g. ``int | None``).

    int -> float, list -> tuple and a scalar -> 1-tuple are converted; anything else of the
    wrong type raises ``ValueError("<key>: expected <type>, got <value>")``.
    """
    if isinstance(value, list):
        value = tuple(value)
    options = [hint]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        options = list(typing.get_args(hint))
    for option in options:
        ok, converted = convert(value, option)
        if ok:
            return converted
    hint_text = " (quote a string: key='\"5\"')" if str in options else ""
    raise ValueError(f"{key}: expected {type_name(hint)}, got {value!r} "
                     f"({type(value).__name__}){hint_text}")


def convert(value, option) -> tuple[bool, object]:
    """(True, value converted to ``option``) or (False, None); bools are never numbers."""
    if option is type(None):
        return value is None, None
    if typing.get_origin(option) is tuple:
        element = typing.get_args(option)[0]
        items = value if isinstance(value, tuple) else (value,)
        converted = [convert(item, element) for item in items]
        return all(ok for ok, _ in converted), tuple(v for _, v in converted)
    if option is float and isinstance(value, int) and not isinstance(value, bool):
        return True, float(value)
    if option in (int, float) and isinstance(value, bool):
        return False, None
    return isinstance(value, option), value


def flatten(values: dict, prefix: str = "") -> dict:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists become tuples (comparable, hashable)."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = tuple(value) if isinstance(value, list) else value
    return flat


def differences(old: dict, new: dict) -> dict[str, tuple]:
    """``{"dotted.key": (old value, new value)}`` for every leaf of two nested dicts that
    differs (``None`` stands for a missing key)."""
    a, b = flatten(old), flatten(new)
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}
