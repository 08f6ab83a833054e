"""The domain: pure rules and data, no HTTP, no storage, no I/O beyond reading fixtures.

Clock and timeline, tax ids and formats, tokens, tenants, links, consents and their state
machine, institutions, personas, Open Data tasks, webhook deliveries, report requests and the
report generator (`reports/`)."""
