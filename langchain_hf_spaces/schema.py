"""The guide's schema dict -> a pydantic model and a JSON schema.

The guide describes structured output with a dict of type names::

    schema = {
        "title": "string",
        "description": "string",
        "pros": "string[]",
        "cons": "string[]",
    }

Leaves are type names: ``"string"``, ``"number"``, ``"integer"``, ``"boolean"``; ``T[]`` is a
list of ``T`` (``"string[][]"`` nests); a trailing ``"?"`` makes a field optional (default
``None``); ``"low|medium|high"`` is an enum of those literals. A nested dict is a nested object
and ``[{...}]`` a list of objects. Pydantic model classes and JSON-schema dicts are accepted too.

>>> Idea = schema_to_model({"title": "string", "score": "integer?"}, name="Idea")
>>> Idea(title="Garden", score=None).title
'Garden'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from langchain_hf_spaces.errors import SpaceConfigError

__all__ = ["SchemaError", "SchemaLike", "is_guide_schema", "json_schema_of", "schema_to_model"]

SchemaLike = Union[Mapping[str, Any], type[BaseModel]]  # noqa: UP007 - a runtime alias
"""What structured generation accepts: the guide's schema dict, a JSON schema, a pydantic class."""

_BASE_TYPES: dict[str, Any] = {"string": str, "number": float, "integer": int, "boolean": bool}
VALID_TYPES = (
    "string, number, integer, boolean; T[] for a list; a trailing ? for optional; "
    "a|b|c for one of those strings; a nested dict; [ {...} ] for a list of objects"
)
_FIELD_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ENUM_ITEM_RE = re.compile(r"^[^|\s][^|]*$")


class SchemaError(SpaceConfigError):
    """A schema dict that cannot describe a structure; names the path and the valid types."""

    default_hint = f"Valid types: {VALID_TYPES}."


def is_guide_schema(schema: Any) -> bool:
    """True for the guide's schema dict (as opposed to a JSON schema or a pydantic class)."""
    if not isinstance(schema, Mapping):
        return False
    return not _is_json_schema(schema)


def _is_json_schema(schema: Mapping[str, Any]) -> bool:
    if "$schema" in schema:
        return True
    return schema.get("type") == "object" and isinstance(schema.get("properties"), Mapping)


def schema_to_model(schema: SchemaLike, *, name: str | None = None) -> type[BaseModel]:
    """Build a pydantic model class from the guide's schema dict, a JSON schema or a model.

    Raises:
        SchemaError: the schema is malformed; the message names the path (``pros[]``,
            ``address.city``) and lists the valid types.
    """
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema
    if not isinstance(schema, Mapping):
        raise SchemaError(
            f"a schema must be a dict or a pydantic model class, not {type(schema).__name__}."
        )
    if _is_json_schema(schema):
        title = schema.get("title")
        return _from_json_schema(
            schema, name or (title if isinstance(title, str) else "Structure"), ""
        )
    return _from_guide(schema, name or "Structure", "")


# ------------------------------------------------------------------------------ guide schema
def _from_guide(schema: Mapping[str, Any], name: str, path: str) -> type[BaseModel]:
    if not schema:
        raise SchemaError(f"the schema at {path or '<root>'} is an empty dict: name some fields.")
    fields: dict[str, Any] = {}
    for key, spec in schema.items():
        here = f"{path}.{key}" if path else str(key)
        if not isinstance(key, str) or not _FIELD_RE.match(key):
            raise SchemaError(f"field name {key!r} at {path or '<root>'} is not an identifier.")
        annotation, optional = _annotation(spec, here, _model_name(name, key))
        if optional:
            fields[key] = (Optional[annotation], Field(default=None))  # noqa: UP045
        else:
            fields[key] = (annotation, ...)
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="ignore"), **fields)
    return model


def _model_name(parent: str, key: str) -> str:
    return parent + "".join(part[:1].upper() + part[1:] for part in key.split("_"))


def _annotation(spec: Any, path: str, name: str) -> tuple[Any, bool]:
    if isinstance(spec, Mapping):
        return _from_guide(spec, name, path), False
    if isinstance(spec, list):
        if len(spec) != 1:
            raise SchemaError(
                f"{path}: a list in a schema holds exactly one item type, like "
                '[{"name": "string"}] or ["string"]; got ' + repr(spec)[:80] + "."
            )
        inner, optional = _annotation(spec[0], path + "[]", name + "Item")
        if optional:
            raise SchemaError(f"{path}[]: list items cannot be optional; mark the list instead.")
        return list[inner], False  # type: ignore[valid-type]
    if not isinstance(spec, str):
        raise SchemaError(
            f"{path}: a schema leaf must be a type name string, not {type(spec).__name__} "
            f"({spec!r})."
        )
    text = spec.strip()
    optional = text.endswith("?")
    if optional:
        text = text[:-1].strip()
    depth = 0
    while text.endswith("[]"):
        text = text[:-2].strip()
        depth += 1
    if not text:
        raise SchemaError(f"{path}: {spec!r} names no type.")
    item_path = path + "[]" * depth
    if "|" in text:
        options = [o.strip() for o in text.split("|")]
        if len(options) < 2 or not all(o and _ENUM_ITEM_RE.match(o) for o in options):
            raise SchemaError(f"{item_path}: {spec!r} is not a valid enum like 'low|medium|high'.")
        annotation: Any = Literal[tuple(options)]
    elif text in _BASE_TYPES:
        annotation = _BASE_TYPES[text]
    else:
        raise SchemaError(f"{item_path}: unknown type {text!r} (in {spec!r}).")
    for _ in range(depth):
        annotation = list[annotation]
    return annotation, optional


# ------------------------------------------------------------------------------ JSON schema
_JSON_TYPES: dict[str, Any] = {
    "string": str,
    "number": float,
    "integer": int,
    "boolean": bool,
    "null": type(None),
}


def _from_json_schema(schema: Mapping[str, Any], name: str, path: str) -> type[BaseModel]:
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        raise SchemaError(f"{path or '<root>'}: a JSON schema object needs 'properties'.")
    required = set(schema.get("required") or [])
    defs = schema.get("$defs") or schema.get("definitions") or {}
    fields: dict[str, Any] = {}
    for key, sub in props.items():
        here = f"{path}.{key}" if path else str(key)
        annotation = _json_annotation(sub, here, _model_name(name, str(key)), defs)
        description = sub.get("description") if isinstance(sub, Mapping) else None
        if key in required:
            fields[key] = (annotation, Field(..., description=description))
        else:
            default = sub.get("default") if isinstance(sub, Mapping) else None
            fields[key] = (Optional[annotation], Field(default=default, description=description))  # noqa: UP045
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="ignore"), **fields)
    return model


def _json_annotation(sub: Any, path: str, name: str, defs: Mapping[str, Any]) -> Any:
    if not isinstance(sub, Mapping):
        raise SchemaError(f"{path}: a JSON schema property must be an object.")
    ref = sub.get("$ref")
    if isinstance(ref, str):
        target = defs.get(ref.rsplit("/", 1)[-1])
        if not isinstance(target, Mapping):
            raise SchemaError(f"{path}: unresolved $ref {ref!r}.")
        return _json_annotation(target, path, ref.rsplit("/", 1)[-1], defs)
    if "enum" in sub and isinstance(sub["enum"], list) and sub["enum"]:
        return Literal[tuple(sub["enum"])]
    for key in ("anyOf", "oneOf"):
        if isinstance(sub.get(key), list):
            options = [_json_annotation(o, path, name, defs) for o in sub[key]]
            return Union[tuple(options)]  # noqa: UP007 - built at runtime
    kind = sub.get("type")
    if isinstance(kind, list):
        options = [_json_annotation({**sub, "type": k}, path, name, defs) for k in kind]
        return Union[tuple(options)]  # noqa: UP007 - built at runtime
    if kind == "object":
        if isinstance(sub.get("properties"), Mapping) and sub["properties"]:
            return _from_json_schema({**sub, "$defs": defs}, name, path)
        return dict[str, Any]
    if kind == "array":
        items = sub.get("items")
        inner = _json_annotation(items, path + "[]", name + "Item", defs) if items else Any
        return list[inner]  # type: ignore[valid-type]
    if kind in _JSON_TYPES:
        return _JSON_TYPES[kind]
    raise SchemaError(f"{path}: unsupported JSON schema type {kind!r}.")


def json_schema_of(schema: SchemaLike) -> dict[str, Any]:
    """The JSON schema of whatever :func:`schema_to_model` accepts."""
    return schema_to_model(schema).model_json_schema()
