"""Chat templates: how a conversation becomes one prompt for a text-protocol Space.

A Space that speaks the guide's ``generate`` format (or TGI, or Gradio) takes a single string.
:class:`~langchain_hf_spaces.ChatHuggingFaceSpace` renders the conversation with a
:class:`ChatTemplate` and cuts the reply at the template's end-of-turn marker, so a model that
keeps talking ("<|im_end|><|im_start|>user ...") never leaks the next turn into the answer.

Presets (``chat_template="chatml"`` and so on):

=========  =================================================  =======================
name       turn                                               end of turn
=========  =================================================  =======================
chatml     ``<|im_start|>{role}\\n{content}<|im_end|>\\n``      ``<|im_end|>``
llama3     ``<|start_header_id|>{role}<|end_header_id|>...``  ``<|eot_id|>``
zephyr     ``<|{role}|>\\n{content}</s>\\n``                    ``</s>``
=========  =================================================  =======================

``chatml`` is the default (Qwen, many fine-tunes and
:class:`~langchain_hf_spaces.testing.LocalSpace` use it). A Jinja2 string in the Hugging Face
``tokenizer_config.json`` style (``messages``, ``add_generation_prompt``, ``bos_token``,
``eos_token``) or a plain callable
``(messages) -> str`` works too; give its end-of-turn markers with :func:`chat_template`.

Messages reach a template as dicts ``{"role": "system"|"user"|"assistant"|"tool", "content": str}``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from langchain_hf_spaces.errors import SpaceConfigError

__all__ = [
    "CHAT_TEMPLATES",
    "DEFAULT_CHAT_TEMPLATE",
    "ChatTemplate",
    "ChatTemplateError",
    "MarkerCutter",
    "RenderedMessage",
    "chat_template",
    "cut_at_markers",
    "template_end_markers",
]

RenderedMessage = Mapping[str, str]
Renderer = Callable[[Sequence[RenderedMessage]], str]


@dataclass(frozen=True)
class ChatTemplate:
    """A conversation renderer plus the markers that end a model's turn.

    Args:
        name: shown in metadata and error messages.
        render: ``(messages) -> prompt``; the prompt must end where the assistant's reply begins.
        end_of_turn: markers at which a reply is cut (also sent to the Space as ``stop``).
    """

    name: str
    render: Renderer = field(repr=False)
    end_of_turn: tuple[str, ...] = ()

    def __call__(self, messages: Sequence[RenderedMessage]) -> str:
        return self.render(messages)


def _chatml(messages: Sequence[RenderedMessage]) -> str:
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


_LLAMA3_ROLES = {"tool": "ipython"}


def _llama3(messages: Sequence[RenderedMessage]) -> str:
    parts = ["<|begin_of_text|>"]
    for m in messages:
        role = _LLAMA3_ROLES.get(m["role"], m["role"])
        parts.append(f"<|start_header_id|>{role}<|end_header_id|>\n\n{m['content']}<|eot_id|>")
    parts.append("<|start_header_id|>assistant<|end_header_id|>\n\n")
    return "".join(parts)


def _zephyr(messages: Sequence[RenderedMessage]) -> str:
    # Zephyr knows system, user and assistant; tool results are shown to it as user turns.
    parts = []
    for m in messages:
        role = "user" if m["role"] == "tool" else m["role"]
        parts.append(f"<|{role}|>\n{m['content']}</s>\n")
    parts.append("<|assistant|>\n")
    return "".join(parts)


CHAT_TEMPLATES: dict[str, ChatTemplate] = {
    "chatml": ChatTemplate("chatml", _chatml, ("<|im_end|>", "<|im_start|>")),
    "llama3": ChatTemplate("llama3", _llama3, ("<|eot_id|>", "<|start_header_id|>")),
    "zephyr": ChatTemplate("zephyr", _zephyr, ("</s>", "<|user|>")),
}
"""The named presets."""

DEFAULT_CHAT_TEMPLATE = "chatml"


class ChatTemplateError(SpaceConfigError):
    """A chat template refused a conversation (its ``raise_exception``) or could not render."""

    default_hint = (
        "The Jinja2 chat_template given to ChatHuggingFaceSpace(chat_template=...) (the model's "
        "tokenizer_config.json template) decides which conversations it accepts: check the "
        "roles and their order, or pick a preset (chatml, llama3, zephyr)."
    )


def _tojson(
    value: object,
    ensure_ascii: bool = False,
    indent: int | str | None = None,
    separators: tuple[str, str] | None = None,
    sort_keys: bool = False,
) -> str:
    """transformers' ``tojson``: no HTML escaping, keys in their order, non-ASCII kept."""
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _strftime_now(format: str) -> str:
    return datetime.now().strftime(format)


def _jinja(source: str, *, bos_token: str, eos_token: str) -> Renderer:
    """Compile ``source`` in transformers' chat-template environment (``_compile_jinja_template``):
    a sandbox with ``trim_blocks``/``lstrip_blocks``, loop controls, HF ``tojson``,
    ``strftime_now`` and ``raise_exception``."""
    try:
        from jinja2.exceptions import TemplateError
        from jinja2.sandbox import ImmutableSandboxedEnvironment
    except ImportError:  # pragma: no cover - depends on the environment
        raise SpaceConfigError(
            "A Jinja2 chat template needs the jinja2 package.", hint="pip install jinja2"
        ) from None

    class _Refused(TemplateError):
        pass

    def raise_exception(message: str) -> str:
        raise _Refused(message)

    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
    )
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = _strftime_now
    try:
        compiled = env.from_string(source)
    except TemplateError as exc:
        raise ChatTemplateError(f"chat_template is not a valid Jinja2 template: {exc}.") from None

    def render(messages: Sequence[RenderedMessage]) -> str:
        try:
            return compiled.render(
                messages=[dict(m) for m in messages],
                add_generation_prompt=True,
                bos_token=bos_token,
                eos_token=eos_token,
            )
        except _Refused as exc:
            raise ChatTemplateError(f"the chat template refused the conversation: {exc}") from None
        except TemplateError as exc:
            raise ChatTemplateError(f"chat_template failed to render: {exc}.") from None

    return render


_KNOWN_END_MARKERS = (
    "<|eot_id|>",
    "<|eom_id|>",
    "<|im_end|>",
    "<end_of_turn>",
    "<|end|>",
    "<|endoftext|>",
    "</s>",
)
"""End-of-turn markers a template may name literally (Llama 3, ChatML, Gemma, Phi, ...)."""


def template_end_markers(source: str, *, eos_token: str = "") -> tuple[str, ...]:
    """The end-of-turn markers a Jinja2 template names: the known literal markers it contains,
    and ``eos_token`` when the template writes ``eos_token`` (Mistral, Zephyr)."""
    found = [m for m in _KNOWN_END_MARKERS if m in source]
    if eos_token and "eos_token" in source and eos_token not in found:
        found.append(eos_token)
    return tuple(found)


def chat_template(
    template: str | ChatTemplate | Renderer,
    *,
    end_of_turn: Sequence[str] | None = None,
    bos_token: str = "",
    eos_token: str = "",
) -> ChatTemplate:
    """Resolve a preset name, a Jinja2 string or a callable into a :class:`ChatTemplate`.

    >>> t = chat_template("chatml")
    >>> t([{"role": "user", "content": "Hi"}])
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    >>> jinja = "{% for m in messages %}[{{ m.role }}] {{ m.content }}\\n{% endfor %}[assistant] "
    >>> chat_template(jinja, end_of_turn=["\\n["])([{"role": "user", "content": "Hi"}])
    '[user] Hi\\n[assistant] '

    Args:
        template: a preset name (``chatml``, ``llama3``, ``zephyr``), a Jinja2 template string,
            a ``(messages) -> str`` callable, or a ready :class:`ChatTemplate`.
        end_of_turn: markers at which replies are cut; for a Jinja2 string defaults to the
            markers the template names (``<|eot_id|>``, ``<|im_end|>``, ``<end_of_turn>``,
            ``</s>``, ..., and ``eos_token`` when the template writes it); ignored for presets
            unless given.
        bos_token / eos_token: values of the Jinja2 variables of the same names.

    Raises:
        SpaceConfigError: an unknown preset name or a malformed Jinja2 template.
    """
    if isinstance(template, ChatTemplate):
        if end_of_turn is None:
            return template
        return ChatTemplate(template.name, template.render, tuple(end_of_turn))
    if isinstance(template, str):
        preset = CHAT_TEMPLATES.get(template.strip().lower())
        if preset is not None:
            return chat_template(preset, end_of_turn=end_of_turn)
        if "{{" not in template and "{%" not in template:
            raise SpaceConfigError(
                f"chat_template {template!r} is neither a preset "
                f"({', '.join(sorted(CHAT_TEMPLATES))}) nor a Jinja2 template.",
                hint="Pass a preset name, a Jinja2 string or a callable (messages) -> str.",
            )
        if end_of_turn is not None:
            markers: Sequence[str] = end_of_turn
        else:
            markers = template_end_markers(template, eos_token=eos_token) or (
                [eos_token] if eos_token else []
            )
        render = _jinja(template, bos_token=bos_token, eos_token=eos_token)
        return ChatTemplate("jinja2", render, _clean(markers))
    if callable(template):
        name = getattr(template, "__name__", "custom")
        return ChatTemplate(str(name), template, _clean(end_of_turn or ()))
    raise SpaceConfigError(
        f"chat_template must be a preset name, a Jinja2 string or a callable, "
        f"not {type(template).__name__}."
    )


def _clean(markers: Sequence[str]) -> tuple[str, ...]:
    if isinstance(markers, str):
        markers = [markers]
    out = tuple(m for m in markers if isinstance(m, str) and m)
    if len(out) != len(tuple(markers)):
        raise SpaceConfigError("end_of_turn markers must be non-empty strings.")
    return out


def cut_at_markers(text: str, markers: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the first of ``markers``; return the kept text and whether it was cut."""
    cut = -1
    for marker in markers:
        i = text.find(marker)
        if i >= 0 and (cut < 0 or i < cut):
            cut = i
    if cut < 0:
        return text, False
    return text[:cut], True


class MarkerCutter:
    """Cut a stream of text pieces at the first of ``markers``, holding back only what must be.

    A marker may arrive split across pieces: only a tail of the text that is the start of a
    marker is held back (at most ``len(longest marker) - 1`` characters), until it is clear
    whether it becomes one.
    """

    __slots__ = ("_buffer", "_hold", "_markers", "done")

    def __init__(self, markers: Sequence[str]) -> None:
        self._markers = tuple(m for m in markers if m)
        self._hold = max((len(m) for m in self._markers), default=1) - 1
        self._buffer = ""
        self.done = False

    def feed(self, piece: str) -> str:
        """Add a piece; return the text that is now safe to emit."""
        if self.done:
            return ""
        if not self._markers:
            return piece
        self._buffer += piece
        kept, cut = cut_at_markers(self._buffer, self._markers)
        if cut:
            self._buffer = ""
            self.done = True
            return kept
        # Hold back only a tail that could still become a marker (a marker's start), not a
        # fixed width: the rest of the text is out as soon as it arrives.
        buffer = self._buffer
        keep = 0
        for size in range(min(self._hold, len(buffer)), 0, -1):
            tail = buffer[-size:]
            if any(m.startswith(tail) for m in self._markers):
                keep = size
                break
        out, self._buffer = buffer[: len(buffer) - keep], buffer[len(buffer) - keep :]
        return out

    def flush(self) -> str:
        """The rest at the end of the stream."""
        out, self._buffer = ("" if self.done else self._buffer), ""
        return out
