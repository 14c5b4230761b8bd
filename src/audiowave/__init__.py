"""Audiowave: audio production forensics (Ray-free core package)."""

__version__ = "0.1.0"
