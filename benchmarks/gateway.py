"""The gateway's added latency per call: an OpenAI client through ``hf-spaces serve`` against
calling ``SpacesClient`` directly, on the same loopback Space.

    python benchmarks/gateway.py [--rounds N] [--calls N]

The Space (``benchmarks/serve.py``: a ``LocalSpace``) and the gateway (the real ``hf-spaces
serve`` command) each run in their own process, so neither shares the benchmarked interpreter's
GIL. Two tiers on the one Space: ``base`` (the guide's ``generate`` protocol: the gateway renders
the chat template) and ``chat`` (the ``openai`` protocol: messages go natively). Per-call times
are medians over interleaved rounds (in each round every contender makes the same number of
calls, in a rotated order). Contenders per tier, non-streamed and streamed (time to the whole
answer):

* ``direct``: ``SpacesClient`` in this process (``complete``/``stream_chunks`` of the rendered
  prompt on ``base``, ``SpaceClient.chat``/``chat_stream_chunks`` on ``chat``);
* ``gateway (httpx)``: a raw httpx POST to the gateway (the gateway's own cost);
* ``gateway (openai SDK)``: ``openai.OpenAI().chat.completions.create`` (what users see).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MESSAGES = [{"role": "user", "content": "Write one sentence about tea."}]


def _start(args: list[str], cwd: Path, lines: int = 1) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=cwd,
    )
    assert proc.stdout is not None
    return proc, [proc.stdout.readline().strip() for _ in range(lines)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=10, help="calls per contender per round")
    args = parser.parse_args()

    import httpx
    import openai

    from langchain_hf_spaces import SpaceConfig, SpacesClient, SpacesSettings
    from langchain_hf_spaces._chat_templates import chat_template

    space, (url,) = _start([sys.executable, str(ROOT / "benchmarks" / "serve.py")], ROOT)
    tmp = Path(tempfile.mkdtemp())
    config = tmp / "hf-spaces.toml"
    config.write_text(
        "version = 1\n"
        f'[tiers.base]\nurl = "{url}"\nprotocol = "generate"\n'
        f'[tiers.chat]\nurl = "{url}"\nprotocol = "openai"\n',
        encoding="utf-8",
    )
    gateway, head = _start(
        [
            sys.executable,
            "-m",
            "langchain_hf_spaces",
            "serve",
            "--port",
            "0",
            "--config",
            str(config),
        ],
        tmp,
        lines=2,
    )
    base_url = head[1]
    try:
        settings = SpacesSettings(
            tiers={
                "base": SpaceConfig(url=url, protocol="generate"),
                "chat": SpaceConfig(url=url, protocol="openai"),
            }
        )
        spaces = SpacesClient(settings)
        http = httpx.Client(base_url=base_url, timeout=30)
        sdk = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0)
        template = chat_template("chatml")
        prompt = template(MESSAGES)
        stops = list(template.end_of_turn)

        def direct(tier: str, stream: bool) -> Callable[[], object]:
            if tier == "base":
                if stream:
                    return lambda: list(spaces.stream_chunks(prompt, tier, stop=stops))
                return lambda: spaces.complete(prompt, tier, stop=stops)
            one = spaces.space("chat")
            if stream:
                return lambda: list(one.chat_stream_chunks(MESSAGES))
            return lambda: one.chat(MESSAGES)

        def via_httpx(tier: str, stream: bool) -> Callable[[], object]:
            body = {"model": tier, "messages": MESSAGES, "stream": stream}
            if stream:

                def run() -> object:
                    with http.stream("POST", "/chat/completions", json=body) as response:
                        return list(response.iter_lines())

                return run
            return lambda: http.post("/chat/completions", json=body).json()

        def via_sdk(tier: str, stream: bool) -> Callable[[], object]:
            if stream:
                return lambda: list(
                    sdk.chat.completions.create(model=tier, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
                )
            return lambda: sdk.chat.completions.create(model=tier, messages=MESSAGES)  # type: ignore[arg-type]

        print(f"Space {url}, gateway {base_url}; {args.rounds} rounds x {args.calls} calls")
        print(
            f"{'tier':<5} {'mode':<7} {'direct':>9} {'gw httpx':>9} {'gw SDK':>9}"
            f" {'added (httpx)':>14} {'added (SDK)':>12}"
        )
        for tier in ("base", "chat"):
            for stream in (False, True):
                contenders = {
                    "direct": direct(tier, stream),
                    "httpx": via_httpx(tier, stream),
                    "sdk": via_sdk(tier, stream),
                }
                for fn in contenders.values():  # warm up: connections, protocol setup
                    for _ in range(3):
                        fn()
                times: dict[str, list[float]] = {k: [] for k in contenders}
                names = list(contenders)
                for r in range(args.rounds):
                    order = names[r % len(names) :] + names[: r % len(names)]
                    for name in order:
                        fn = contenders[name]
                        for _ in range(args.calls):
                            t0 = time.perf_counter()
                            fn()
                            times[name].append((time.perf_counter() - t0) * 1000)
                med = {k: statistics.median(v) for k, v in times.items()}
                mode = "stream" if stream else "plain"
                print(
                    f"{tier:<5} {mode:<7} {med['direct']:>7.2f}ms {med['httpx']:>7.2f}ms"
                    f" {med['sdk']:>7.2f}ms {med['httpx'] - med['direct']:>+12.2f}ms"
                    f" {med['sdk'] - med['direct']:>+10.2f}ms"
                )
        spaces.close()
        http.close()
        sdk.close()
    finally:
        gateway.terminate()
        space.terminate()
        gateway.wait(10)
        space.wait(10)


if __name__ == "__main__":
    main()
