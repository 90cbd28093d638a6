"""Run a LocalSpace (or the gradio bench app) in its own process, for benchmarks.

    python benchmarks/serve.py [--delay SECONDS] [--gradio] [--sleep SECONDS]

Prints the URL on the first line of stdout, then serves until stdin closes or it is killed.
A separate process keeps the server off the benchmarked interpreter's GIL.
"""

from __future__ import annotations

import argparse
import sys


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

    from langchain_hf_spaces.testing import Fault, LocalSpace

    with LocalSpace(name="bench") as space:
        if args.delay:
            # An async pause on the server's event loop: latency without tying up a thread.
            space.inject(Fault.slow(args.delay), times=None)
        if args.sleep:
            space.sleep_for(args.sleep, form="html")
        print(space.url, flush=True)
        # A tiny control protocol on stdin: "peak" -> peak concurrency, "sleep N" -> fall asleep.
        for line in sys.stdin:
            command = line.split()
            if command[:1] == ["peak"]:
                print(space.peak_concurrency, flush=True)
            elif command[:1] == ["sleep"]:
                space.sleep_for(float(command[1]), form="html")
                print("ok", flush=True)


if __name__ == "__main__":
    main()
