"""sluis: tui."""
