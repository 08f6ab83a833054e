"""Real processes: `klavi-mock serve` on loopback ports, the CLI, the installed wheel, the bench smoke test."""
