"""``python -m langchain_hf_spaces.cli``: the ``hf-spaces`` command."""

from __future__ import annotations

import sys

from langchain_hf_spaces.cli import main

if __name__ == "__main__":
    sys.exit(main())
