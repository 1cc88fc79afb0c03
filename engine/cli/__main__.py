"""``python -m engine.cli``: the sluis command."""

from engine.cli import main

main()
