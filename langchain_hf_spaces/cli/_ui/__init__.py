"""``hf-spaces ui``: the guide's settings page, served on this machine.

``_form`` turns the settings file into what the page shows and the page's form back into
settings (no I/O), ``_jobs`` runs Test Connection (``doctor``'s checks) in threads, ``_app`` is
the web application and its guard, ``_serve`` the command. The page itself is ``static/``:
plain HTML, CSS and JavaScript, shipped in the package.
"""

from __future__ import annotations

from langchain_hf_spaces.cli._ui._serve import cmd_ui

__all__ = ["cmd_ui"]
