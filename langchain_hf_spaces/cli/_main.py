"""The entry point: the argument parser, and ``main`` mapping every outcome to an exit code."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback

from langchain_hf_spaces import _constants as C
from langchain_hf_spaces.cli._batch import cmd_batch
from langchain_hf_spaces.cli._compare import cmd_compare
from langchain_hf_spaces.cli._console import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    Console,
    UsageError,
    error_line,
    setup_logging,
)
from langchain_hf_spaces.cli._doctor import cmd_doctor
from langchain_hf_spaces.cli._generate import cmd_generate
from langchain_hf_spaces.cli._init import cmd_init
from langchain_hf_spaces.cli._options import add_generation_options
from langchain_hf_spaces.cli._serve import add_serve_parser
from langchain_hf_spaces.cli._stats import cmd_stats
from langchain_hf_spaces.cli._ui import cmd_ui
from langchain_hf_spaces.config import KNOWN_PROTOCOLS
from langchain_hf_spaces.errors import HFSpacesError, SpaceConfigError, SpacesDisabledError

__all__ = ["build_parser", "main"]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("langchain-hf-spaces")
    except Exception:  # pragma: no cover - not installed as a distribution
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """The ``hf-spaces`` argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=f"settings file (default: $HF_SPACES_CONFIG, else ./{C.CONFIG_FILE_NAME})",
    )
    common.add_argument(
        "--profile",
        metavar="NAME",
        action="append",
        default=argparse.SUPPRESS,
        help="the settings profile to use ([profiles.NAME] of the settings file; default "
        "$HF_SPACES_PROFILE, else none); `compare` takes it twice or more",
    )
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show tracebacks and the package's debug log (never tokens)",
    )
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Use LLMs deployed on Hugging Face Spaces: set up, check and generate.",
        epilog="Exit codes: 0 ok, 1 a Space failed (or doctor found a failure), "
        "2 usage or settings error.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "init",
        parents=[common],
        help=f"write {C.CONFIG_FILE_NAME} (asks, or takes flags)",
        description=f"Write {C.CONFIG_FILE_NAME}. Asks for each tier unless --url or "
        "--non-interactive is given. Per-tier options take TIER=VALUE (a bare VALUE applies to "
        "the default tier). Tokens are not written unless --store-token is given. An existing "
        "file of an older version is migrated; any other existing file is kept unless --force.",
    )
    p.add_argument("--non-interactive", "-y", action="store_true", help="ask nothing")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.add_argument("--url", action="append", metavar="[TIER=]URL", help="a tier's Space URL")
    p.add_argument("--endpoint", action="append", metavar="[TIER=]PATH")
    p.add_argument(
        "--protocol", action="append", metavar="[TIER=]NAME", help=", ".join(KNOWN_PROTOCOLS)
    )
    p.add_argument(
        "--token-env",
        action="append",
        metavar="[TIER=]VAR",
        help=f"environment variable holding the tier's token (default {C.TOKEN_ENV_FALLBACK})",
    )
    p.add_argument("--revision", action="append", metavar="[TIER=]REV")
    p.add_argument("--default-tier", metavar="TIER")
    p.add_argument("--disabled", action="store_true", help="write enabled = false")
    p.add_argument(
        "--store-token",
        action="store_true",
        help="store each tier's token (read now from its token variable) in the file, mode 0600",
    )
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "doctor",
        parents=[common],
        help="check settings, environment and every tier",
        description="Check the settings file, the environment, the enabled switch, then each "
        "tier: URL, DNS, connect, TLS, auth, protocol and a tiny generation.",
    )
    p.add_argument("--tier", help="check only this tier")
    p.add_argument("--json", action="store_true", help="machine-readable report on stdout")
    p.add_argument(
        "--wake-timeout",
        type=float,
        metavar="SECONDS",
        help="how long to wait for a sleeping Space (default: each tier's wake_timeout)",
    )
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser(
        "generate",
        parents=[common],
        help="generate an answer to PROMPT",
        description="Print the answer to PROMPT ('-' reads it from stdin).",
    )
    p.add_argument("prompt", metavar="PROMPT", help="the prompt, or - to read it from stdin")
    add_generation_options(p)
    p.add_argument("--stream", action="store_true", help="print the answer as it arrives")
    p.add_argument("--schema", metavar="FILE", help="JSON schema file: print a JSON object")
    p.add_argument("--variations", type=int, metavar="N", help="print N numbered variations")
    p.add_argument("--json", action="store_true", help="print JSON (text and metadata)")
    p.add_argument("--verbose", "-v", action="store_true", help="print metadata on stderr")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser(
        "batch",
        parents=[common],
        help="answer one prompt per line of FILE, writing JSONL",
        description="Answer every non-empty line of FILE concurrently and write one JSON "
        "record per line to FILE's stem + .results.jsonl (or --output). Running it again "
        "resumes: answered lines are kept, failed and new ones are done.",
    )
    p.add_argument("file", metavar="FILE")
    add_generation_options(p)
    p.add_argument("--output", "-o", metavar="PATH")
    p.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="at most N prompts at once (default: adaptive, up to 64; with --fixed, 4)",
    )
    p.add_argument(
        "--fixed",
        action="store_true",
        help="pin the concurrency at --concurrency instead of adapting it to the Space",
    )
    p.add_argument("--restart", action="store_true", help="ignore the results of earlier runs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--cache",
        metavar="PATH",
        help="SQLite response cache: deterministic prompts (--temperature 0, --seed) answered "
        "before with the same settings and parameters are not sent again",
    )
    p.add_argument(
        "--cache-all", action="store_true", help="with --cache: cache every answer, sampled too"
    )
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser(
        "compare",
        parents=[common],
        help="answer the prompts of FILE with two or more profiles, side by side",
        description="Answer every non-empty line of FILE (one prompt per line, as for `batch`) "
        "with each --profile in turn (concurrently within a profile, at most --concurrency "
        "at a time) and print the answers and latencies side by side, then each profile's "
        "median and p95 latency and error count. Exit code 1 if any call failed.",
    )
    p.add_argument("file", metavar="FILE")
    add_generation_options(p)
    p.add_argument("--concurrency", type=int, default=4, metavar="N", help="default 4")
    p.add_argument("--json", action="store_true", help="machine-readable results on stdout")
    p.add_argument("--width", type=int, metavar="N", help="table width (default: the terminal's)")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "stats",
        parents=[common],
        help="print the statistics of a batch run",
        description="Print what a `batch` run recorded (written beside its output as "
        "OUTPUT.stats.json): per tier and variant, calls, errors by kind, latency "
        "percentiles, time waiting for Spaces to wake, retries, tokens, cache hits.",
    )
    p.add_argument("output", metavar="OUTPUT", help="the batch's output file (or its stats file)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "ui",
        parents=[common],
        help=f"the settings page: edit and test {C.CONFIG_FILE_NAME} in your browser",
        description=f"Serve the settings page for {C.CONFIG_FILE_NAME} on this machine and open "
        "it in the browser. The address printed holds a session token; the page never shows a "
        "stored token. Needs the `server` extra.",
    )
    p.add_argument("--port", type=int, metavar="N", help="port (default 8765, else a free one)")
    p.add_argument("--host", default="127.0.0.1", help="address (default 127.0.0.1)")
    p.add_argument("--no-browser", action="store_true", help="print the address only")
    p.add_argument(
        "--unsafe-host",
        action="store_true",
        help="allow a --host that is not loopback (anyone reaching it can change your settings)",
    )
    p.set_defaults(func=cmd_ui)

    add_serve_parser(sub, common)
    return parser


_NO_PROFILE = {
    "init": "`init` writes the base settings; add [profiles.<name>] tables to the file by hand "
    "(see docs/configuration.md).",
    "ui": "the settings page edits the base settings; the file's profiles are kept as they are.",
}
"""Commands that take no ``--profile``, and why."""


def _choose_profiles(args: argparse.Namespace, argv: list[str] | None) -> None:
    """``args.profiles``: every ``--profile`` given; ``args.profile``: the one a command uses
    (``None``: ``$HF_SPACES_PROFILE`` decides). Only ``compare`` takes several."""
    profiles = list(getattr(args, "profile", None) or [])
    words = sys.argv[1:] if argv is None else argv
    given = sum(1 for w in words if w == "--profile" or w.startswith("--profile="))
    if given > len(profiles):  # argparse keeps the command's own over those before it
        raise UsageError(
            "--profile was given both before and after the command.",
            hint=f"Give every --profile after the command: {PROG} {args.command} --profile ...",
        )
    if profiles and args.command in _NO_PROFILE:
        raise UsageError(f"{args.command} takes no --profile.", hint=_NO_PROFILE[args.command])
    if len(profiles) > 1 and args.command != "compare":
        raise UsageError(
            f"--profile is given {len(profiles)} times; {args.command} uses one profile.",
            hint=f"To run prompts with several profiles: {PROG} compare --profile A --profile B "
            "FILE.",
        )
    args.profiles = profiles
    args.profile = profiles[0] if profiles else None


def main(argv: list[str] | None = None) -> int:
    """Run ``hf-spaces`` with ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        # --config/--debug may come before or after the command; absent means unset.
        args.config = getattr(args, "config", None)
        args.debug = getattr(args, "debug", False)
    except SystemExit as exc:  # --help, --version, or a usage error argparse printed
        status = exc.code
        return status if isinstance(status, int) else (EXIT_OK if status is None else EXIT_USAGE)
    console = Console(sys.stdout, sys.stderr)
    debug = bool(args.debug)
    handlers = setup_logging(debug, console)
    try:
        _choose_profiles(args, argv)
        code: int = args.func(args, console)
        return code
    except UsageError as exc:
        if debug:
            traceback.print_exc(file=console.err)
        console.error(exc.message, exc.hint)
        return EXIT_USAGE
    except HFSpacesError as exc:
        if debug:
            traceback.print_exc(file=console.err)
        console.error(error_line(exc), exc.hint or None)
        if isinstance(exc, (SpaceConfigError, SpacesDisabledError)):
            return EXIT_USAGE
        return EXIT_FAILED
    except KeyboardInterrupt:
        console.note("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `hf-spaces generate ... | head`: the reader left; say nothing more.
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return EXIT_FAILED
    except Exception as exc:
        if debug:
            traceback.print_exc(file=console.err)
        console.error(
            f"unexpected {type(exc).__name__}: {exc}",
            f"This looks like a bug; rerun with `{PROG} --debug ...` and report the traceback.",
        )
        return EXIT_FAILED
    finally:
        for logger, handler in handlers:
            logger.removeHandler(handler)
        with contextlib.suppress(Exception):
            console.out.flush()
