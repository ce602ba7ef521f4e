"""The `kijabi` command: the only place that wires configuration."""
