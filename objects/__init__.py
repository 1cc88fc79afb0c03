"""sluis: objects."""
