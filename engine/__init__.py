"""sluis: engine."""
