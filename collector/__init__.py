"""Pantau central collector."""

__version__ = "0.1.0"
