"""Pantau central collector."""
