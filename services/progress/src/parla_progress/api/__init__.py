"""The progress HTTP API."""
