"""The state: the `Store` the rest of the mock reads and writes through, and its backends
(memory, SQLite for `--state-file`)."""
