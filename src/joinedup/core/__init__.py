"""Plumbing every context shares: settings, database, outbox and bus, transparency log, keys."""
