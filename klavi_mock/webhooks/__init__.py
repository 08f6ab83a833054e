"""Webhooks: Klavi's API events and product reports, signed, logged, retried."""
