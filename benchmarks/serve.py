"""Run a LocalSpace (or the gradio bench app) in its own process, for benchmarks.

    python benchmarks/serve.py [--delay SECONDS] [--gradio] [--sleep SECONDS]

Prints the URL on the first line of stdout, then serves until stdin closes or it is killed.
A separate process keeps the server off the benchmarked interpreter's GIL.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.0, help="latency added to each answer")
    parser.add_argument("--sleep", type=float, default=0.0, help="start asleep for this long")
    parser.add_argument("--gradio", action="store_true", help="serve a real gradio app instead")
    args = parser.parse_args()
    if args.gradio:
        sys.path.insert(0, ".")
        from tests.support.gradio_app import running_gradio_app

        with running_gradio_app() as url:
            print(url, flush=True)
            sys.stdin.read()
        return

    from langchain_hf_spaces.testing import LocalSpace, demo_responder

    def responder(prompt: str, parameters: dict[str, Any]) -> str:
        if args.delay:
            time.sleep(args.delay)
        return demo_responder(prompt, parameters, name="bench")

    with LocalSpace(name="bench", responder=responder) as space:
        if args.sleep:
            space.sleep_for(args.sleep, form="json")
        print(space.url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
