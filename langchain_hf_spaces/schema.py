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

import copy
import re
from collections.abc import Mapping
from typing import Any, Literal, Optional, Union, cast

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

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
    if "$schema" in schema or isinstance(schema.get("$ref"), str):
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
    if _depth(schema) > MAX_SCHEMA_DEPTH:
        raise SchemaError(
            f"the schema nests deeper than {MAX_SCHEMA_DEPTH} levels; flatten it, or use a "
            "recursive $ref for tree-shaped data."
        )
    if _is_json_schema(schema):
        title = schema.get("title")
        return _from_user_json_schema(
            schema, name or (title if isinstance(title, str) else "Structure")
        )
    return _from_guide(schema, name or "Structure", "")


MAX_SCHEMA_DEPTH = 64
"""How deep a schema dict may nest (a recursive ``$ref`` does not count: it is not unrolled)."""


def _depth(value: Any) -> int:
    """How deep ``value`` nests, without recursion (a hostile schema cannot overflow the stack)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > deepest:
            deepest = level
            if deepest > MAX_SCHEMA_DEPTH:
                return deepest
        if isinstance(item, Mapping):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return deepest


def _from_user_json_schema(schema: Mapping[str, Any], name: str) -> type[BaseModel]:
    """A model that validates with ``jsonschema`` against the schema as given and shows it as
    given (``model_json_schema()`` is the user's schema), with typed fields where the schema
    maps onto them (nested objects become models) and plain JSON values where it does not."""
    try:
        import jsonschema
        from jsonschema.exceptions import SchemaError as JSONSchemaError
    except ImportError:  # pragma: no cover - a declared dependency
        raise SchemaError(
            "JSON schemas need the jsonschema package.", hint="pip install jsonschema"
        ) from None
    dialect = schema.get("$schema")
    if dialect is not None and not isinstance(dialect, str):
        raise SchemaError(
            "$schema must be a string naming a JSON Schema dialect, such as "
            '"https://json-schema.org/draft/2020-12/schema", or be left out.'
        )
    as_given = copy.deepcopy(dict(schema))
    validator_class = jsonschema.validators.validator_for(
        as_given, default=jsonschema.Draft202012Validator
    )
    try:
        validator_class.check_schema(as_given)
    except JSONSchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "<root>"
        raise SchemaError(f"not a valid JSON schema at {where}: {exc.message}") from None
    validator = validator_class(as_given)
    top: Mapping[str, Any] = schema
    ref = schema.get("$ref")
    defs = schema.get("$defs") or schema.get("definitions") or {}
    if "properties" not in schema and isinstance(ref, str) and isinstance(defs, Mapping):
        target = defs.get(ref.rsplit("/", 1)[-1])
        if isinstance(target, Mapping):
            top = {**target, "$defs": defs}
    kind = top.get("type")
    is_object = kind == "object" or (isinstance(kind, list) and "object" in kind)
    if not is_object and not isinstance(top.get("properties"), Mapping):
        raise SchemaError(
            'a JSON schema for structured output must describe an object: give it "type": '
            '"object" and its "properties" (wrap a list or a single value in a property).'
        )
    try:
        typed = _from_json_schema(top, name, "", frozenset({ref} if isinstance(ref, str) else ()))
    except (SchemaError, TypeError):
        typed = create_model(name, __config__=ConfigDict(extra="allow"))

    def check(cls: type[BaseModel], data: Any) -> Any:
        problems = [
            f"{'.'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message}"
            for err in sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.path)))
        ]
        if problems:
            raise ValueError("; ".join(problems[:10]))
        return data

    def shown(cls: type[BaseModel], *args: Any, **kwargs: Any) -> dict[str, Any]:
        return copy.deepcopy(as_given)

    model: type[BaseModel] = create_model(
        name,
        __base__=typed,
        __validators__={"_jsonschema": cast("Any", model_validator(mode="before")(check))},
    )
    model.model_json_schema = classmethod(shown)  # type: ignore[method-assign,assignment]
    return model


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


def _from_json_schema(
    schema: Mapping[str, Any], name: str, path: str, seen: frozenset[str] = frozenset()
) -> type[BaseModel]:
    props = schema.get("properties")
    if not isinstance(props, Mapping) or not props:
        raise SchemaError(f"{path or '<root>'}: a JSON schema object needs 'properties'.")
    required = set(schema.get("required") or [])
    defs = schema.get("$defs") or schema.get("definitions") or {}
    fields: dict[str, Any] = {}
    for key, sub in props.items():
        here = f"{path}.{key}" if path else str(key)
        annotation = _json_annotation(sub, here, _model_name(name, str(key)), defs, seen)
        description = sub.get("description") if isinstance(sub, Mapping) else None
        if key in required:
            fields[key] = (annotation, Field(..., description=description))
        else:
            default = sub.get("default") if isinstance(sub, Mapping) else None
            fields[key] = (Optional[annotation], Field(default=default, description=description))  # noqa: UP045
    model: type[BaseModel] = create_model(name, __config__=ConfigDict(extra="ignore"), **fields)
    return model


def _json_annotation(
    sub: Any, path: str, name: str, defs: Mapping[str, Any], seen: frozenset[str] = frozenset()
) -> Any:
    """A type for ``sub``; ``jsonschema`` checks every constraint, so anything the types cannot
    say (``const`` of a list, a recursive ``$ref``, keywords without ``type``) is ``Any``."""
    if sub is True or sub == {}:
        return Any
    if not isinstance(sub, Mapping):
        raise SchemaError(f"{path}: a JSON schema property must be an object.")
    ref = sub.get("$ref")
    if isinstance(ref, str):
        if ref in seen:
            return Any  # a recursive $ref (a tree): jsonschema validates the deeper levels
        target = defs.get(ref.rsplit("/", 1)[-1])
        if not isinstance(target, Mapping):
            raise SchemaError(f"{path}: unresolved $ref {ref!r}.")
        return _json_annotation(target, path, ref.rsplit("/", 1)[-1], defs, seen | {ref})
    if "const" in sub:
        const = sub["const"]
        return Literal[const] if isinstance(const, str | int | bool) or const is None else Any
    if "enum" in sub and isinstance(sub["enum"], list) and sub["enum"]:
        if all(isinstance(v, str | int | bool) or v is None for v in sub["enum"]):
            return Literal[tuple(sub["enum"])]
        return Any
    for key in ("anyOf", "oneOf"):
        if isinstance(sub.get(key), list):
            options = [_json_annotation(o, path, name, defs, seen) for o in sub[key]]
            return Union[tuple(options)]  # noqa: UP007 - built at runtime
    kind = sub.get("type")
    if isinstance(kind, list):
        options = [_json_annotation({**sub, "type": k}, path, name, defs, seen) for k in kind]
        return Union[tuple(options)]  # noqa: UP007 - built at runtime
    if kind == "object":
        if isinstance(sub.get("properties"), Mapping) and sub["properties"]:
            return _from_json_schema({**sub, "$defs": defs}, name, path, seen)
        return dict[str, Any]
    if kind == "array":
        items = sub.get("items")
        inner = (
            _json_annotation(items, path + "[]", name + "Item", defs, seen)
            if isinstance(items, Mapping) and items
            else Any
        )
        return list[inner]  # type: ignore[valid-type]
    if kind in _JSON_TYPES:
        return _JSON_TYPES[kind]
    if kind is None:
        return Any
    raise SchemaError(f"{path}: unsupported JSON schema type {kind!r}.")


def json_schema_of(schema: SchemaLike) -> dict[str, Any]:
    """The JSON schema of whatever :func:`schema_to_model` accepts."""
    return schema_to_model(schema).model_json_schema()
