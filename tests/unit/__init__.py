"""Pure pieces and the repository's own files (spec, README, packaging): no server."""
