"""The fake bank's pages and Klavi's LGPD step: form posts (or `decision=` query parameters)
turned into calls on the consent lifecycle."""
