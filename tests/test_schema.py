"""The guide's schema language: models, JSON schemas, path-naming errors; property tests."""

from __future__ import annotations

import json
import keyword
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from langchain_hf_spaces import SchemaError, SpaceConfigError, schema_to_model
from langchain_hf_spaces.schema import is_guide_schema, json_schema_of

GUIDE = {"title": "string", "description": "string", "pros": "string[]", "cons": "string[]"}


def test_the_guides_example() -> None:
    Idea = schema_to_model(GUIDE, name="ProductIdea")
    idea = Idea(title="Smart garden", description="d", pros=["cheap"], cons=[])
    assert idea.title == "Smart garden" and idea.pros == ["cheap"]  # type: ignore[attr-defined]
    assert list(Idea.model_fields) == list(GUIDE)  # field order kept
    assert Idea.__name__ == "ProductIdea"


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        ("string", "x", 3),
        ("number", 1.5, "x"),
        ("integer", 2, 2.5),
        ("boolean", True, "maybe"),
        ("integer[]", [1, 2], ["a"]),
        ("string[][]", [["a"], []], ["a"]),
        ("low|medium|high", "medium", "extreme"),
        ("low|high[]", ["low", "high"], ["mid"]),
    ],
)
def test_leaf_types(spec: str, good: Any, bad: Any) -> None:
    M = schema_to_model({"f": spec})
    assert M(f=good).f == good  # type: ignore[attr-defined]
    with pytest.raises(ValidationError) as info:
        M(f=bad)
    # refused as a bad value of the field (not, say, as a missing or unknown field)
    assert {error["loc"][0] for error in info.value.errors()} == {"f"}
    assert {error["type"] for error in info.value.errors()} & {
        "missing",
        "extra_forbidden",
    } == set()


def test_optional_nested_and_lists_of_objects() -> None:
    M = schema_to_model(
        {
            "name": "string",
            "age": "integer?",
            "address": {"city": "string", "zip": "string?"},
            "orders": [{"sku": "string", "qty": "integer"}],
            "tags": ["string"],
        },
        name="Customer",
    )
    c = M(name="A", address={"city": "Paris"}, orders=[{"sku": "x", "qty": 2}], tags=["t"])
    assert c.age is None and c.address.city == "Paris" and c.orders[0].qty == 2  # type: ignore[attr-defined]
    schema = M.model_json_schema()
    assert set(schema["required"]) == {"name", "address", "orders", "tags"}


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"title": "strng"}, "title: unknown type 'strng' (in 'strng')."),
        ({}, "the schema at <root> is an empty dict: name some fields."),
        ({"pros": "strng[]"}, "pros[]: unknown type 'strng' (in 'strng[]')."),
        (
            {"address": {"city": 5}},
            "address.city: a schema leaf must be a type name string, not int (5).",
        ),
        ({"address": {"city": "text"}}, "address.city: unknown type 'text' (in 'text')."),
        ({"items": [{"n": "nmber"}]}, "items[].n: unknown type 'nmber' (in 'nmber')."),
        (
            {"items": ["string", "number"]},
            "items: a list in a schema holds exactly one item type, like "
            '[{"name": "string"}] or ["string"]; got [\'string\', \'number\'].',
        ),
        ({"a": "x|"}, "a: 'x|' is not a valid enum like 'low|medium|high'."),
        ({"bad key": "string"}, "field name 'bad key' at <root> is not an identifier."),
        ({"a": "?"}, "a: '?' names no type."),
    ],
)
def test_malformed_schemas_name_the_path(schema: dict[str, Any], message: str) -> None:
    with pytest.raises(SchemaError) as info:
        schema_to_model(schema)
    assert info.value.message == message
    assert info.value.hint.startswith("Valid types: string, number, integer, boolean;")
    assert isinstance(info.value, SpaceConfigError)


def test_pydantic_class_and_json_schema_accepted() -> None:
    class Slogan(BaseModel):
        text: str
        score: int

    assert schema_to_model(Slogan) is Slogan
    M = schema_to_model(Slogan.model_json_schema())
    assert M(text="a", score=1).score == 1  # type: ignore[attr-defined]
    assert not is_guide_schema(Slogan.model_json_schema())
    assert is_guide_schema(GUIDE)
    assert json_schema_of(GUIDE)["properties"]["pros"]["type"] == "array"


def test_non_dict_schema_is_refused() -> None:
    with pytest.raises(SchemaError, match="must be a dict"):
        schema_to_model("string")  # type: ignore[arg-type]


# ------------------------------------------------------------------ property tests
_names = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and not s.startswith("model_")
)
_base = st.sampled_from(["string", "number", "integer", "boolean", "red|green|blue"])
_leaf = st.builds(
    lambda t, lists, opt: t + "[]" * lists + ("?" if opt else ""),
    _base,
    st.integers(0, 2),
    st.booleans(),
)
_schemas = st.recursive(
    st.dictionaries(_names, _leaf, min_size=1, max_size=4),
    lambda children: st.dictionaries(
        _names,
        st.one_of(_leaf, children, st.builds(lambda c: [c], children)),
        min_size=1,
        max_size=4,
    ),
    max_leaves=8,
)


def _value_for(spec: Any) -> st.SearchStrategy[Any]:
    """A strategy for values valid under one schema entry (built independently of our code)."""
    if isinstance(spec, dict):
        return st.fixed_dictionaries({k: _value_for(v) for k, v in spec.items()})
    if isinstance(spec, list):
        return st.lists(_value_for(spec[0]), max_size=3)
    text = spec
    optional = text.endswith("?")
    text = text.rstrip("?")
    depth = 0
    while text.endswith("[]"):
        text, depth = text[:-2], depth + 1
    bases: dict[str, st.SearchStrategy[Any]] = {
        "string": st.text(max_size=10),
        "number": st.floats(allow_nan=False, allow_infinity=False),
        "integer": st.integers(),
        "boolean": st.booleans(),
    }
    base = bases[text] if text in bases else st.sampled_from(text.split("|"))
    for _ in range(depth):
        base = st.lists(base, max_size=3)
    return st.one_of(st.none(), base) if optional else base


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data(), schema=_schemas)
def test_every_valid_schema_round_trips_a_generated_object(
    data: st.DataObject, schema: dict[str, Any]
) -> None:
    M = schema_to_model(schema)
    value = data.draw(_value_for(schema))
    instance = M.model_validate(value)
    # the JSON schema we give the model describes exactly the objects we accept
    assert set(M.model_json_schema()["properties"]) == set(schema)
    again = M.model_validate(json.loads(instance.model_dump_json()))
    assert again == instance


_bad_leaf = st.one_of(
    st.sampled_from(["strng", "int", "text", "", "[]", "string[", "float?"]),
    st.integers(),
    st.none(),
)


def _leaf_problem(bad: Any) -> str:
    """What the error says about a bad leaf (worked out here, not by the code under test)."""
    if not isinstance(bad, str):
        return f"a schema leaf must be a type name string, not {type(bad).__name__} ({bad!r})"
    name = bad.rstrip("?")
    while name.endswith("[]"):
        name = name[:-2]
    if not name:
        return f"{bad!r} names no type"
    return f"unknown type {name!r} (in {bad!r})"


@settings(max_examples=60, deadline=None)
@given(schema=_schemas, bad=_bad_leaf, where=st.data())
def test_every_invalid_schema_names_the_path(
    schema: dict[str, Any], bad: Any, where: st.DataObject
) -> None:
    key = where.draw(st.sampled_from(sorted(schema)))
    broken = dict(schema)
    broken[key] = bad
    with pytest.raises(SchemaError) as info:
        schema_to_model(broken)
    # The path is the top-level key, first, then exactly what is wrong with its value.
    assert info.value.message == f"{key}: {_leaf_problem(bad)}."
    assert info.value.hint.startswith("Valid types: string, number, integer, boolean;")


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        ("strng", "unknown type 'strng' (in 'strng')"),
        ("float?", "unknown type 'float' (in 'float?')"),
        ("string[", "unknown type 'string[' (in 'string[')"),
        ("", "'' names no type"),
        ("[]", "'[]' names no type"),
        (5, "a schema leaf must be a type name string, not int (5)"),
        (None, "a schema leaf must be a type name string, not NoneType (None)"),
    ],
)
def test_the_expected_messages_of_the_property_test(bad: Any, problem: str) -> None:
    """Pins _leaf_problem itself to the messages users see."""
    assert _leaf_problem(bad) == problem
    with pytest.raises(SchemaError) as info:
        schema_to_model({"ok": "string", "k": bad})
    assert info.value.message == f"k: {problem}."


# ------------------------------------------- #15.12 / #14.16: JSON schemas validated as given
from langchain_hf_spaces import SchemaError as _SchemaError  # noqa: E402
from langchain_hf_spaces._structured import (  # noqa: E402
    StructuredParseError,
    format_instructions,
    parse_structured,
)
from langchain_hf_spaces.schema import schema_to_model as _to_model  # noqa: E402

STRICT = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 3, "pattern": "^[A-Z]"},
        "n": {"type": "integer", "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "kind": {"const": "idea"},
    },
    "required": ["name", "kind"],
    "additionalProperties": False,
}


def test_json_schema_is_shown_as_given() -> None:
    shown = format_instructions(_to_model(STRICT))
    assert json.dumps(STRICT, separators=(",", ":")) in shown


def test_json_schema_const_works() -> None:
    ok = parse_structured('{"name": "Abc", "kind": "idea"}', _to_model(STRICT))
    assert ok.model_dump()["kind"] == "idea"


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ('{"name": "Ab", "kind": "idea"}', "too short"),
        ('{"name": "abc", "kind": "idea"}', "does not match"),
        ('{"name": "Abc", "kind": "idea", "n": 0}', "less than the minimum"),
        ('{"name": "Abc", "kind": "idea", "tags": ["a", "b", "c"]}', "too long"),
        ('{"name": "Abc", "kind": "idea", "extra": 1}', "Additional properties"),
        ('{"name": "Abc", "kind": "other"}', "was expected"),
    ],
)
def test_json_schema_constraints_are_enforced(answer: str, problem: str) -> None:
    with pytest.raises(StructuredParseError, match=problem):
        parse_structured(answer, _to_model(STRICT))


def test_an_invalid_json_schema_is_a_schema_error() -> None:
    with pytest.raises(_SchemaError, match="not a valid JSON schema"):
        _to_model({"type": "object", "properties": {"a": {"type": "string", "minLength": -1}}})


NODE = {
    "$defs": {
        "Node": {
            "type": "object",
            "properties": {
                "value": {"type": "integer"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
            },
            "required": ["value"],
        }
    },
    "type": "object",
    "properties": {
        "value": {"type": "integer"},
        "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
    },
    "required": ["value"],
}


def test_a_recursive_ref_tree_is_supported() -> None:
    model = _to_model(NODE)
    tree = '{"value": 1, "children": [{"value": 2, "children": [{"value": 3}]}]}'
    assert parse_structured(tree, model).model_dump()["value"] == 1
    with pytest.raises(StructuredParseError, match=r"children\.0\.children\.0\.value"):
        parse_structured(tree.replace("3", '"x"'), model)


def test_a_pydantic_recursive_model_schema_is_supported() -> None:
    from pydantic import BaseModel

    class Tree(BaseModel):
        value: int
        children: list[Tree] = []

    model = _to_model(Tree.model_json_schema())
    assert parse_structured('{"value": 1, "children": [{"value": 2}]}', model)


@pytest.mark.parametrize("kind", ["guide", "json"])
def test_a_very_deep_schema_is_refused_not_a_recursion_error(kind: str) -> None:
    deep: dict[str, Any] = {"leaf": "string"}
    if kind == "json":
        deep = {"type": "object", "properties": {"leaf": {"type": "string"}}}
    for _ in range(5000):
        deep = (
            {"inner": deep}
            if kind == "guide"
            else {"type": "object", "properties": {"inner": deep}}
        )
    with pytest.raises(_SchemaError, match="nests deeper"):
        _to_model(deep)


@pytest.mark.parametrize(
    "schema",
    [
        {"$schema": 1},
        {"$schema": ""},
        {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array"},
        {"type": "string", "$ref": "#/$defs/x", "$defs": {"x": {"type": "string"}}},
    ],
)
def test_a_json_schema_that_is_not_an_object_is_refused_clearly(schema: dict[str, Any]) -> None:
    """Found by `make fuzz`: a non-string $schema crashed inside jsonschema, and a schema of
    something other than an object was accepted for structured output."""
    with pytest.raises(SchemaError) as exc:
        schema_to_model(schema)
    assert "$schema" in exc.value.message or "describe an object" in exc.value.message
