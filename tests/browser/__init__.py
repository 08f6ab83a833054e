"""Headless Chromium (Debian's) driving the pages."""
