"""`python -m autodev.cli`: the same as the `autodev` console script."""

from autodev.cli import main

main()
