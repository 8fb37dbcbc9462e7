"""Proactive services: life events, entitlements, and re-evaluation when the law changes
(:mod:`joinedup.proactive.reevaluation`)."""
