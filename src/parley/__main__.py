"""`python -m parley` is the `parley` command."""

from __future__ import annotations

from parley.cli import main

main()
