"""Run a benchmark server in its own process.

    python benchmarks/serve.py [--delay SECONDS] [--sleep SECONDS]       # a LocalSpace
    python benchmarks/serve.py --gradio                                  # the tests' gradio app
    python benchmarks/serve.py --gradio-capacity 4 --max-size 8 --delay 0.2
    python benchmarks/serve.py --tgi-capacity 16 --delay 0.1             # TGI-like, 429 past 16
    python benchmarks/serve.py --unlimited --delay 0.25                  # no limit at all

Prints the URL on the first line of stdout, then serves until stdin closes or it is killed.
A separate process keeps the server off the benchmarked interpreter's GIL.

Control protocol, one command a line on stdin, one answer line on stdout:
``peak`` (LocalSpace: peak concurrency), ``sleep N`` (LocalSpace: fall asleep for N s),
``stats`` (capacity servers: ``overloads served peak``, counted here, on the server's side)
and ``reset`` (capacity servers: zero the counts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

OVERLOADED = {"error": "Model is overloaded", "error_type": "overloaded"}


class Counts:
    """What a capacity server saw: overload answers, answers served, peak concurrency."""

    def __init__(self) -> None:
        self.overloads = 0
        self.served = 0
        self.peak = 0
        self.active = 0

    def reset(self) -> None:
        self.overloads = self.served = self.peak = 0

    def line(self) -> str:
        return f"{self.overloads} {self.served} {self.peak}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class CapacityApp:
    """A raw ASGI model server: TGI's ``/generate`` + ``/info`` (or the guide's
    ``/api/generate``), ``delay`` seconds per answer, at most ``capacity`` at a time and a TGI
    429 ``overloaded`` answer past it (``capacity=None``: no limit)."""

    def __init__(self, counts: Counts, delay: float, capacity: int | None) -> None:
        self.counts = counts
        self.delay = delay
        self.capacity = capacity

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path, method = scope["path"], scope["method"]
        if method == "GET" and path == "/info":
            info = {
                "model_id": "bench/model",
                "max_concurrent_requests": self.capacity or 1024,
                "max_batch_total_tokens": 16000,
                "max_input_tokens": 1024,
                "max_total_tokens": 2048,
                "version": "3.0.0",
            }
            return await _json(send, 200, info)
        if method == "GET" and path == "/health":
            return await _json(send, 200, {})
        if method != "POST" or path not in ("/generate", "/api/generate"):
            return await _json(send, 404, {"error": "not found"})
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        counts = self.counts
        if self.capacity is not None and counts.active >= self.capacity:
            counts.overloads += 1
            return await _json(send, 429, OVERLOADED)
        counts.active += 1
        counts.peak = max(counts.peak, counts.active)
        try:
            await asyncio.sleep(self.delay)
        finally:
            counts.active -= 1
        counts.served += 1
        prompt = json.loads(body).get("inputs", "")
        return await _json(send, 200, {"generated_text": f"answer to {prompt[-12:]}"})


async def _json(send: Send, status: int, payload: Any) -> None:
    data = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})


def serve_capacity(delay: float, capacity: int | None) -> None:
    import uvicorn

    counts = Counts()
    port = _free_port()
    config = uvicorn.Config(
        CapacityApp(counts, delay, capacity),
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
        backlog=4096,
        timeout_keep_alive=60,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        threading.Event().wait(0.01)
    print(f"http://127.0.0.1:{port}", flush=True)
    control(counts)
    server.should_exit = True
    thread.join(5)


def serve_gradio_capacity(delay: float, concurrency_limit: int, max_size: int) -> None:
    """A real gradio app: one endpoint taking ``delay`` seconds, ``concurrency_limit`` at a
    time, with ``max_size`` waiting; the queue-full refusals (HTTP 503) are counted here."""
    import gradio as gr

    counts = Counts()

    async def predict(prompt: str, max_new_tokens: float = 16, temperature: float = 0.7) -> str:
        counts.active += 1
        counts.peak = max(counts.peak, counts.active)
        try:
            await asyncio.sleep(delay)
        finally:
            counts.active -= 1
        counts.served += 1
        return f"answer to {prompt[-12:]}"

    with gr.Blocks() as demo:
        prompt = gr.Textbox(label="prompt")
        tokens = gr.Slider(1, 256, value=16, step=1, label="max_new_tokens")
        temperature = gr.Slider(0, 2, value=0.7, label="temperature")
        out = gr.Textbox(label="output")
        gr.Button("Generate").click(
            predict,
            [prompt, tokens, temperature],
            out,
            api_name="predict",
            concurrency_limit=concurrency_limit,
        )
    demo.queue(max_size=max_size)
    queue = demo._queue
    push = queue.push

    async def counted_push(*args: Any, **kwargs: Any) -> Any:
        answer = await push(*args, **kwargs)
        if answer[2] == "queue_full":
            counts.overloads += 1
        return answer

    queue.push = counted_push  # type: ignore[method-assign]
    port = _free_port()
    demo.launch(
        server_name="127.0.0.1",
        server_port=port,
        prevent_thread_lock=True,
        quiet=True,
        show_error=True,
    )
    print(f"http://127.0.0.1:{port}", flush=True)
    try:
        control(counts)
    finally:
        demo.close()


def control(counts: Counts) -> None:
    for line in sys.stdin:
        command = line.split()
        if command[:1] == ["stats"]:
            print(counts.line(), flush=True)
        elif command[:1] == ["reset"]:
            counts.reset()
            print("ok", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0, help="latency added to each answer")
    parser.add_argument("--sleep", type=float, default=0.0, help="start asleep for this long")
    parser.add_argument("--gradio", action="store_true", help="serve the tests' gradio app")
    parser.add_argument("--gradio-capacity", type=int, help="a gradio app, this concurrency_limit")
    parser.add_argument("--max-size", type=int, default=8, help="its queue's max_size")
    parser.add_argument("--tgi-capacity", type=int, help="TGI-like: max_concurrent_requests")
    parser.add_argument("--unlimited", action="store_true", help="a model server with no limit")
    args = parser.parse_args()
    if args.gradio_capacity:
        serve_gradio_capacity(args.delay, args.gradio_capacity, args.max_size)
        return
    if args.tgi_capacity or args.unlimited:
        serve_capacity(args.delay, args.tgi_capacity)
        return
    if args.gradio:
        sys.path.insert(0, ".")
        from tests.support.gradio_app import running_gradio_app

        with running_gradio_app() as url:
            print(url, flush=True)
            sys.stdin.read()
        return

    from langchain_hf_spaces.testing import Fault, LocalSpace

    with LocalSpace(name="bench") as space:
        if args.delay:
            # An async pause on the server's event loop: latency without tying up a thread.
            space.inject(Fault.slow(args.delay), times=None)
        if args.sleep:
            space.sleep_for(args.sleep, form="html")
        print(space.url, flush=True)
        for line in sys.stdin:
            command = line.split()
            if command[:1] == ["peak"]:
                print(space.peak_concurrency, flush=True)
            elif command[:1] == ["sleep"]:
                space.sleep_for(float(command[1]), form="html")
                print("ok", flush=True)


if __name__ == "__main__":
    main()
