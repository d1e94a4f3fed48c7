"""``python -m thb_search``."""

from .cli import main

main()
