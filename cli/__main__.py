"""``python -m cli``: the sluis command."""

from cli import main

main()
