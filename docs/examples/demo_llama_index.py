"""The LlamaIndex part of ``make demo``: a query engine over a few documents, on every tier.

Called by ``demo.py`` (beside it) with the settings of its local Spaces. Embeddings
are llama-index-core's ``MockEmbedding`` (offline); the answers come from whatever the
Spaces answer (the deterministic demo responder under ``make demo``).
"""

from __future__ import annotations

from llama_index.core import MockEmbedding, VectorStoreIndex
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.schema import TextNode

from langchain_hf_spaces import SpacesSettings
from llama_index_hf_spaces import HuggingFaceSpaceLLM

__all__ = ["run"]

DOCUMENTS = (
    "The Lantern Bakery opens at 7 am on weekdays and at 9 am on Saturdays.",
    "The Lantern Bakery is closed on Sundays and public holidays.",
    "Its sourdough is baked every morning; rye bread only on Fridays.",
)
QUESTION = "When does the Lantern Bakery open on Saturdays?"


def run(settings: SpacesSettings) -> None:
    """Print a LlamaIndex query answered by each configured tier, and one chat turn."""
    # Fixed node ids: MockEmbedding ties every similarity, and the ids break the tie, so the
    # prompt (and the demo responder's answer) is the same on every run.
    nodes = [TextNode(text=text, id_=f"bakery-{i}") for i, text in enumerate(DOCUMENTS)]
    index = VectorStoreIndex(nodes, embed_model=MockEmbedding(embed_dim=16))
    print(f"Query over {len(DOCUMENTS)} documents: {QUESTION!r}")
    for tier in settings.tiers:
        llm = HuggingFaceSpaceLLM(tier, settings=settings, max_new_tokens=24)
        try:
            engine = index.as_query_engine(llm=llm, similarity_top_k=2)
            response = engine.query(QUESTION)
            kind = "chat" if llm.metadata.is_chat_model else "text"
            print(f"[{tier:<11}] ({kind}) {str(response).strip()}")
        finally:
            llm.close()
    llm = HuggingFaceSpaceLLM(settings.default_tier, settings=settings, max_new_tokens=16)
    try:
        reply = llm.chat(
            [
                ChatMessage(role=MessageRole.SYSTEM, content="You are a friendly baker."),
                ChatMessage(role=MessageRole.USER, content="Recommend a bread."),
            ]
        )
        meta = reply.additional_kwargs
        print(
            f"chat on {settings.default_tier!r}: {reply.message.content}\n"
            f"{'':<14}protocol={meta['protocol']} revision={meta.get('revision')} "
            f"attempts={meta['attempts']}"
        )
    finally:
        llm.close()
