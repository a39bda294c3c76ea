"""The shared HTTP layer: the Api and the user-scoped blueprint, errors, JSON, signed cursors and
pages, idempotent writes, observability, browsers, docs and probes. Resources build on it; it
imports none of them."""
