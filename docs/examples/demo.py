"""``make demo``: four local Spaces, one per tier, driven the way a user would.

Run it with ``python docs/examples/demo.py`` (needs the ``server`` extra; the LangChain and
LlamaIndex parts, ``demo_langchain.py`` and ``demo_llama_index.py`` beside it, run when
``langchain`` and ``llama-index-core`` are installed). It starts a
:class:`~langchain_hf_spaces.testing.LocalSpace` per tier (each speaking a different wire
protocol, the ``user`` tier private), writes an ``hf-spaces.toml`` for them, loads it back with
:meth:`SpacesSettings.load`, prints Test Connection for every tier and generates on each tier
with and without context. The answers come from the deterministic demo responder, a stand-in
for a language model."""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
from contextlib import ExitStack
from pathlib import Path
from types import ModuleType

from langchain_hf_spaces import SpacesClient, SpacesSettings
from langchain_hf_spaces.testing import LocalSpace, scripted_responder

DEMO_TOKEN_ENV = "HF_SPACES_DEMO_USER_TOKEN"  # noqa: S105 - a variable name
_PROTOCOLS = {"base": "generate", "company": "tgi", "abstraction": "openai", "user": "auto"}
_HERE = Path(__file__).resolve().parent
_PARTS = {"demo_langchain": "langchain", "demo_llama_index": "llama_index"}
"""The framework parts of the demo (modules beside this one) and the package each needs."""


def _part(name: str) -> ModuleType | None:
    """A framework part of the demo, or ``None`` when its framework is not installed."""
    if str(_HERE) not in sys.path:
        sys.path.insert(0, str(_HERE))
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] == _PARTS[name]:
            print(f"\n({name} skipped: {exc.name} is not installed)")
            return None
        raise


def _toml(spaces: dict[str, LocalSpace]) -> str:
    lines = ["version = 1", "enabled = true", 'default_tier = "base"', ""]
    for tier, space in spaces.items():
        lines += [f"[tiers.{tier}]", f'url = "{space.url}"', f'protocol = "{_PROTOCOLS[tier]}"']
        lines.append(f'revision = "demo-{tier}-v1"')
        if tier == "base":
            lines.append('endpoint = "/v1/generate"')  # a versioned endpoint
        if space.private:
            lines.append(f'token_env = "{DEMO_TOKEN_ENV}"')
        lines.append("")
    return "\n".join(lines)


def _section(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 60 - len(title)))


def main() -> int:
    token = "hf_demo_" + os.urandom(8).hex()
    os.environ[DEMO_TOKEN_ENV] = token
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        spaces = {
            tier: stack.enter_context(
                LocalSpace(name=tier, token=token if tier == "user" else None)
            )
            for tier in _PROTOCOLS
        }
        path = Path(tmp) / "hf-spaces.toml"
        path.write_text(_toml(spaces), encoding="utf-8")
        _section(f"Settings written to {path.name}")
        print(path.read_text(encoding="utf-8").replace(tmp, "<tmp>"))

        settings = SpacesSettings.load(path)
        with SpacesClient(settings) as client:
            _section("Test Connection")
            for report in client.test_connection():
                print(report.summary())
                for note in report.notes:
                    print(f"{'':<12} note: {note}")

            _section("generate(prompt, tier)")
            for tier in settings.tiers:
                answer = client.complete("Create a product slogan for a water bottle", tier=tier)
                meta = answer.metadata
                print(f"[{tier:<11}] {answer.text}")
                print(
                    f"{'':<14}protocol={meta['protocol']} revision={meta['revision']} "
                    f"latency={answer.latency * 1000:.1f} ms attempts={answer.attempts}"
                )

            _section("generate(prompt, tier, context)")
            context = {
                "industry": "healthcare",
                "targetAudience": "medical professionals",
                "key_features": ["portable", "sterilizable", "long battery life"],
            }
            for tier in settings.tiers:
                text = client.generate("Create a product description", tier, context)
                print(f"[{tier:<11}] {text}")

            _section("stream (tier 'company', TGI)")
            print("".join(client.space("company").stream("Stream a short answer")))

            _section("generateVariations(prompt, 3, 'company')")
            slogans = client.generate_variations(
                "Create a product slogan for an eco-friendly water bottle", 3, "company"
            )
            for i, slogan in enumerate(slogans, 1):
                print(f"Slogan {i}: {slogan}")

        _section("generateStructure(prompt, schema)")
        # The demo responder writes filler, not JSON: this Space answers from a script instead,
        # first with an answer that does not fit the schema, to show the re-ask.
        script = [
            '{"title": "GrowBox", "pros": "waters itself"}',
            '{"title": "GrowBox", "description": "A self-watering indoor garden.", '
            '"pros": ["waters itself", "fits a windowsill"], "cons": ["needs power"]}',
        ]
        schema = {
            "title": "string",
            "description": "string",
            "pros": "string[]",
            "cons": "string[]",
        }
        with LocalSpace(name="structured", responder=scripted_responder(script)) as space:
            structured = SpacesSettings(tiers={"base": {"url": space.url}})
            with SpacesClient(structured) as one:
                idea = one.generate_structure(
                    "Create a product idea for a smart garden device", schema
                )
            print(f"title: {idea.title}\npros: {idea.pros}\n(asked {len(space.requests)} times)")

        for name in _PARTS:
            extra = _part(name)
            if extra is None:
                continue
            _section(name)
            extra.run(settings)

    print("\nAll four tiers answered.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
