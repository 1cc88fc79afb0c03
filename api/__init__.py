"""sluis: api."""
