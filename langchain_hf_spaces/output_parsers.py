"""``SchemaOutputParser``: a LangChain output parser built from the guide's schema dict.

Format instructions for the prompt, tolerant extraction (code fences, prose around the JSON; a
JSON list where one object was asked is rejected with a clear message), validation, and errors
as :class:`~langchain_core.exceptions.OutputParserException` carrying the raw text::

    from langchain_core.prompts import PromptTemplate
    from langchain_hf_spaces import HuggingFaceSpaceLLM
    from langchain_hf_spaces.output_parsers import SchemaOutputParser

    parser = SchemaOutputParser({"title": "string", "pros": "string[]"})
    prompt = PromptTemplate.from_template("{question}\\n\\n{format}").partial(
        format=parser.get_format_instructions()
    )
    chain = prompt | HuggingFaceSpaceLLM(tier="base") | parser
    idea = chain.invoke({"question": "A product idea for a smart garden device"})
    idea.title, idea.pros

The parser parses once; to re-ask the Space when an answer does not validate, use
``llm.with_structured_output(schema, max_retries=2)`` instead.
"""

from __future__ import annotations

from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.output_parsers import BaseOutputParser
from pydantic import BaseModel, ConfigDict

from langchain_hf_spaces._structured import (
    StructuredParseError,
    format_instructions,
    parse_structured,
)
from langchain_hf_spaces.schema import SchemaLike, is_guide_schema, schema_to_model

__all__ = ["SchemaOutputParser"]


class SchemaOutputParser(BaseOutputParser[Any]):
    """Parse a model's answer into the object a schema describes.

    Args:
        schema: the guide's schema dict (``{"title": "string", "pros": "string[]"}``), a
            pydantic model class, or a JSON schema dict.
        name: the name of the pydantic model built from a schema dict (default ``Structure``).

    ``parse`` returns a pydantic instance (attribute access: ``result.title``) for a schema dict
    or a pydantic class, and a plain ``dict`` for a JSON schema (LangChain's convention).

    Raises:
        SchemaError: at construction, for a malformed schema (names the path and valid types).
        OutputParserException: from ``parse``, with the answer in ``llm_output``.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    schema_: Any
    """The schema as given."""
    pydantic_object: type[BaseModel]
    """The pydantic model the answer is validated against."""
    as_dict: bool = False
    """Return ``dict`` instead of a model instance (set for JSON schemas)."""

    def __init__(self, schema: SchemaLike, *, name: str | None = None, **kwargs: Any) -> None:
        model = schema_to_model(schema, name=name)
        as_dict = isinstance(schema, dict) and not is_guide_schema(schema)
        super().__init__(schema_=schema, pydantic_object=model, as_dict=as_dict, **kwargs)

    @property
    def _type(self) -> str:
        return "hf_spaces_schema"

    @property
    def OutputType(self) -> Any:
        return dict if self.as_dict else self.pydantic_object

    def get_format_instructions(self) -> str:
        """What to append to the prompt so the answer parses."""
        return format_instructions(self.pydantic_object)

    def parse(self, text: str) -> Any:
        """Extract the JSON object from ``text`` and validate it against the schema."""
        try:
            result = parse_structured(text, self.pydantic_object)
        except StructuredParseError as exc:
            raise OutputParserException(
                f"Could not parse the answer into {self.pydantic_object.__name__}: {exc.message}",
                llm_output=exc.raw,
            ) from None
        return result.model_dump() if self.as_dict else result
