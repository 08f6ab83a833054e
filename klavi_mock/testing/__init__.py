"""Helpers for tests that drive klavi-mock: a webhook receiver, the mock served in a thread,
the delivery log, and `wait_for`. The pytest plugin (`klavi_mock` fixture) is
`klavi_mock.testing.pytest_plugin`, installed through pytest's entry point."""

from klavi_mock.testing.helpers import Received, Receiver, delivery_log, serve_in_thread, wait_for

__all__ = ["Received", "Receiver", "delivery_log", "serve_in_thread", "wait_for"]
