"""Where the text comes from: a ``transformers`` pipeline, or the deterministic demo.

``transformers`` and ``torch`` are imported only when ``BACKEND=transformers`` (or ``auto`` finds
them installed), so the demo runs without them.
"""

from __future__ import annotations

import inspect
import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from space_app.config import Settings
from space_app.demo import demo_responder, split_tokens
from space_app.errors import ApiError
from space_app.schemas import GenerationParams

__all__ = [
    "Backend",
    "BackendStream",
    "DemoBackend",
    "Prepared",
    "TransformersBackend",
    "load_backend",
    "render_chat",
]

logger = logging.getLogger("space_app")

Message = dict[str, str]


@dataclass(frozen=True)
class Prepared:
    """A prompt ready for :meth:`Backend.start`: what to pass, its size, its text."""

    inputs: str | list[Message]
    prompt_tokens: int
    text: str


def render_chat(messages: list[Message]) -> str:
    """ChatML, for models without a chat template (and for the demo)."""
    parts = [f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages]
    return "".join(parts) + "<|im_start|>assistant\n"


class BackendStream(ABC, Iterator[str]):
    """The text pieces of one generation; ``next()`` blocks until the next piece."""

    generated_tokens: int = 0

    def __iter__(self) -> BackendStream:
        return self

    @abstractmethod
    def __next__(self) -> str: ...

    @abstractmethod
    def cancel(self) -> None:
        """Stop generating (a stop sequence was met, or the client went away)."""


class Backend(ABC):
    kind: str
    model_id: str
    device: str = "cpu"
    dtype: str = "n/a"
    context_length: int | None = None

    @abstractmethod
    def count_tokens(self, text: str) -> int: ...

    @abstractmethod
    def prepare_chat(self, messages: list[Message]) -> Prepared: ...

    def prepare_text(self, prompt: str) -> Prepared:
        return Prepared(prompt, self.count_tokens(prompt), prompt)

    @abstractmethod
    def start(self, inputs: str | list[Message], params: GenerationParams) -> BackendStream:
        """Begin generating; may block while another generation holds the model."""


# ---------------------------------------------------------------------------------- demo


class _DemoStream(BackendStream):
    def __init__(self, text: str, delay: float) -> None:
        self._tokens = iter(split_tokens(text))
        self._delay = delay
        self._cancelled = threading.Event()
        self.generated_tokens = 0

    def __next__(self) -> str:
        if self._cancelled.is_set():
            raise StopIteration
        token = next(self._tokens)
        if self.generated_tokens and self._delay and self._cancelled.wait(self._delay):
            raise StopIteration
        self.generated_tokens += len(token.split())
        return token

    def cancel(self) -> None:
        self._cancelled.set()


class DemoBackend(Backend):
    """Deterministic filler (see :mod:`space_app.demo`); "tokens" are words."""

    kind = "demo"

    def __init__(self, name: str, delay: float = 0.0) -> None:
        self.name = name
        self.model_id = f"demo/{name}"
        self.delay = delay

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prepare_chat(self, messages: list[Message]) -> Prepared:
        text = render_chat(messages)
        return Prepared(text, self.count_tokens(text), text)

    def start(self, inputs: str | list[Message], params: GenerationParams) -> BackendStream:
        prompt = inputs if isinstance(inputs, str) else render_chat(inputs)
        answer = demo_responder(
            prompt, {"max_new_tokens": params.max_new_tokens, "seed": params.seed}, name=self.name
        )
        return _DemoStream(answer, self.delay)


# -------------------------------------------------------------------------- transformers


class _TransformersStream(BackendStream):
    def __init__(self, backend: TransformersBackend, inputs: Any, params: GenerationParams) -> None:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        cancelled = threading.Event()

        class Watch(StoppingCriteria):  # type: ignore[misc,unused-ignore]
            """Counts generated tokens and stops generation when cancelled."""

            first: int | None = None
            generated = 0

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                length = int(input_ids.shape[-1])
                if self.first is None:
                    self.first = length
                self.generated = length - self.first + 1
                return torch.full(
                    (input_ids.shape[0],),
                    cancelled.is_set(),
                    dtype=torch.bool,
                    device=input_ids.device,
                )

        pipe = backend.pipe
        tokenizer = pipe.tokenizer
        self._cancelled = cancelled
        self._watch = Watch()
        self._streamer = TextIteratorStreamer(
            tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=backend.timeout
        )
        self._error: BaseException | None = None
        self.generated_tokens = 0
        kwargs: dict[str, Any] = {
            "streamer": self._streamer,
            "stopping_criteria": StoppingCriteriaList([self._watch]),
            "max_new_tokens": params.max_new_tokens,
            "do_sample": params.sampling,
            "return_full_text": False,
        }
        if params.sampling:
            if params.temperature:
                kwargs["temperature"] = params.temperature
            if params.top_p is not None:
                kwargs["top_p"] = params.top_p
            if params.top_k is not None:
                kwargs["top_k"] = params.top_k
        if params.repetition_penalty is not None:
            kwargs["repetition_penalty"] = params.repetition_penalty
        if tokenizer.pad_token_id is None and tokenizer.eos_token_id is not None:
            kwargs["pad_token_id"] = tokenizer.eos_token_id

        if not backend.lock.acquire(timeout=backend.timeout):
            raise ApiError(503, "The model is busy; retry later.", "overloaded")

        def work() -> None:
            try:
                if params.seed is not None:
                    from transformers import set_seed

                    set_seed(params.seed)
                pipe(inputs, **kwargs)
            except BaseException as exc:
                self._error = exc
                logger.exception("generation failed")
            finally:
                backend.lock.release()
                self._streamer.end()  # unblocks the reader even when generate() failed

        self._thread = threading.Thread(target=work, name="generate", daemon=True)
        self._thread.start()

    def __next__(self) -> str:
        try:
            piece: str = next(self._streamer)
        except StopIteration:
            self._thread.join()
            self.generated_tokens = self._watch.generated
            if self._error is not None:
                error = self._error
                raise ApiError(500, f"Generation failed: {type(error).__name__}: {error}") from None
            raise
        except queue.Empty:
            self.cancel()
            raise ApiError(504, "No token within GENERATION_TIMEOUT.", "generation") from None
        self.generated_tokens = self._watch.generated
        return piece

    def cancel(self) -> None:
        self._cancelled.set()


class TransformersBackend(Backend):
    """A ``transformers`` text-generation pipeline for ``MODEL_ID``; one generation at a time."""

    kind = "transformers"

    def __init__(self, settings: Settings) -> None:
        import torch
        from transformers import pipeline

        device = settings.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype: Any = settings.torch_dtype
        if dtype != "auto":
            dtype = getattr(torch, dtype)
        # transformers renamed torch_dtype to dtype (4.56); pass whichever this version takes.
        dtype_arg = "dtype" if "dtype" in inspect.signature(pipeline).parameters else "torch_dtype"
        logger.info("loading %s on %s (dtype %s)", settings.model_id, device, settings.torch_dtype)
        self.pipe = pipeline(
            "text-generation",
            model=settings.model_id,
            revision=settings.model_revision,
            device=device,
            **{dtype_arg: dtype},
        )
        self.model_id = settings.model_id
        self.device = str(device)
        self.dtype = str(getattr(self.pipe.model, "dtype", settings.torch_dtype))
        self.timeout = settings.generation_timeout
        self.lock = threading.Lock()
        limit = getattr(self.pipe.tokenizer, "model_max_length", None)
        if not isinstance(limit, int) or limit > 10_000_000:
            limit = getattr(self.pipe.model.config, "max_position_embeddings", None)
        self.context_length = limit if isinstance(limit, int) else None

    def count_tokens(self, text: str) -> int:
        return len(self.pipe.tokenizer(text)["input_ids"])

    def prepare_chat(self, messages: list[Message]) -> Prepared:
        tokenizer = self.pipe.tokenizer
        if getattr(tokenizer, "chat_template", None):
            text = tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
            count = len(tokenizer(text, add_special_tokens=False)["input_ids"])
            return Prepared(messages, count, text)  # the pipeline applies the template itself
        text = render_chat(messages)
        return Prepared(text, self.count_tokens(text), text)

    def start(self, inputs: str | list[Message], params: GenerationParams) -> BackendStream:
        return _TransformersStream(self, inputs, params)


def load_backend(settings: Settings) -> Backend:
    if settings.backend == "transformers":
        return TransformersBackend(settings)
    return DemoBackend(settings.space_name, settings.demo_token_delay)
