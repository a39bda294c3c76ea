"""`python -m taskapp` is the `taskapp` command."""

from taskapp.cli import main

main()
