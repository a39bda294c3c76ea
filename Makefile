# Shortcuts for the two README commands (which need nothing but Python 3.11+).
.PHONY: serve test openapi bench

serve:
	python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/taskapp serve

test:
	python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/pytest

# Re-export specs/openapi.json after changing the API (tests/api/test_openapi.py checks it).
openapi:
	DATABASE_URL=postgresql://localhost/unused JWT_SECRET_KEY=export-only-key-0123456789abcdef0123 \
		TASKAPP_IDENTITY_KEY=export-only-identity-key-0123456789abcdef \
		.venv/bin/taskapp openapi write --format json specs/openapi.json

# The benchmark (bench/README.md): installs wrk if missing, then runs everything.
bench:
	command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[bench]'
	.venv/bin/python -m bench
