"""The contract suite as a tool: `klavi-mock check` (check.py) and the schemathesis set-up it
shares with contract_tests/ (schemathesis_setup.py). Nothing here is imported by `serve`."""
