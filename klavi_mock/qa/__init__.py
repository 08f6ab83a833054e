"""What the mock observes about the client under test: fault rules and the client's reactions
(`faults/`), the request journal (`journal/`), contract conformance, and the hosted pages'
tracking events. No HTTP here; the web layer feeds it."""
