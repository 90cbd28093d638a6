"""SSE decoding cost on adversarial streams (issue #14 item 4): not a test, a measurement.

    PYTHONPATH=. python benchmarks/sse_decoding.py [--mib 1] [--chunk 65536]

Feeds the same bytes to :class:`~langchain_hf_spaces.protocols.SSEDecoder` in chunks of
``--chunk`` bytes (0: in one piece) and prints the CPU seconds per shape: blank lines, CRLF blank
lines, heartbeat comments, one long data line (fed in 1 KiB chunks), and a normal token stream.
"""

from __future__ import annotations

import argparse
import time

from langchain_hf_spaces.protocols import SSEDecoder


def shapes(size: int) -> dict[str, bytes]:
    token = b'data: {"token": {"text": "hi"}}\n\n'
    return {
        "blank lines (\\n)": b"\n" * size,
        "blank lines (\\r\\n)": b"\r\n" * (size // 2),
        "blank lines (\\r)": b"\r" * size,
        "heartbeat comments": b": ping\n\n" * (size // 8),
        "one long data line": b"data: " + b"x" * (size - 7) + b"\n",
        "token stream": token * (size // len(token)),
    }


def run(data: bytes, chunk: int) -> tuple[float, int]:
    decoder = SSEDecoder(max_event_bytes=len(data) + 1)
    step = chunk or len(data)
    start = time.process_time()
    events = 0
    try:
        for i in range(0, len(data), step):
            events += len(decoder.feed(data[i : i + step]))
        events += len(decoder.flush())
    except TypeError:  # pragma: no cover - the old decoder takes no cap
        raise
    return time.process_time() - start, events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mib", type=float, default=1.0)
    parser.add_argument("--chunk", type=int, default=65536, help="bytes per feed; 0: all at once")
    args = parser.parse_args()
    size = int(args.mib * 1024 * 1024)
    for name, data in shapes(size).items():
        chunk = 1024 if name == "one long data line" else args.chunk
        seconds, events = run(data, chunk)
        print(
            f"{name:24} {len(data) / 1048576:.2f} MiB, chunk {chunk or len(data):>8}: "
            f"{seconds:8.3f} s CPU, {events} events"
        )


if __name__ == "__main__":
    main()
