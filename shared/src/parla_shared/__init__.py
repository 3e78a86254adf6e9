"""Parla's shared kernel: what every service builds on."""
