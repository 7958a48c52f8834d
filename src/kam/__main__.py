"""`python -m kam` is the `kam` command."""

from kam.cli import main

main()
