"""taskapp's benchmark: `make bench` (or `.venv/bin/python -m bench`); see bench/README.md."""
