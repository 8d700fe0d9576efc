"""Pantau station agent."""
