"""The ``hf-spaces`` command: ``init``, ``doctor``, ``generate``, ``batch`` and ``ui``.

.. code-block:: console

    $ hf-spaces init                       # asks for each tier; writes hf-spaces.toml
    $ hf-spaces init --non-interactive --url https://acme-base-llm.hf.space
    $ hf-spaces doctor                     # checks settings, environment and every tier
    $ hf-spaces generate "Write a haiku about tea" --tier company --context audience=kids
    $ hf-spaces batch prompts.txt          # one prompt per line -> prompts.results.jsonl
    $ hf-spaces ui                         # the settings page, in your browser

Exit codes: 0 success; 1 a Space failed (or ``doctor`` found a failure); 2 a usage or
configuration error. Errors are one line plus a hint; ``--debug`` adds the traceback and the
package's debug log. Tokens are never printed.

The modules: ``_main`` (parser, :func:`main`), ``_console`` (output, errors, progress lines),
``_options`` (settings path, generation options), ``_toml`` (the settings file), and one per
command: ``_init``, ``_doctor``, ``_generate``, ``_batch``, and the ``_ui`` package (the settings
page). argparse parses; ``tomli-w`` writes the settings file; the progress lines are drawn by
hand.
"""

from __future__ import annotations

from langchain_hf_spaces.cli._console import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from langchain_hf_spaces.cli._main import build_parser, main
from langchain_hf_spaces.cli._toml import dumps_toml

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "dumps_toml", "main"]
