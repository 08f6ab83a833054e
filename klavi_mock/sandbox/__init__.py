"""The services over the state: tenants, consents and the bank journey, reports, Open Data
tasks, and what a change announces. They speak in domain terms, never HTTP."""
