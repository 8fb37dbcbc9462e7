"""Proactive services."""
