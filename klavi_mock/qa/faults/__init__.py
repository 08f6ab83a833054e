"""Faults on demand: rules that make matching Klavi API requests fail the way real
networks and servers fail (429 with Retry-After, 5xx, 403, business codes, delays, no
answer, a dropped connection, a truncated or malformed body), and a record of how the
client under test reacted.

- `rules.py`: what a rule is (match, trigger, action) and its validation. No HTTP.
- `book.py`: the rules in force, which one a request trips, and the reactions log.
- `reactions.py`: each injected fault and what the same tenant did next.
- `wire.py`: how each action is put on the wire (ASGI), and `control.py`: the
  /__mock/faults handlers. The three above know no HTTP.
"""

from klavi_mock.qa.faults.book import FaultBook, Injection
from klavi_mock.qa.faults.rules import FaultRule, RuleError, parse_rule

__all__ = ["FaultBook", "FaultRule", "Injection", "RuleError", "parse_rule"]
