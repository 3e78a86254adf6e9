"""Outbound calls: curriculum over HTTP."""
