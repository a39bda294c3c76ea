"""taskapp's benchmark: `make bench` (or `.venv/bin/python -m bench`); see the README."""
