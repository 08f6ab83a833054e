"""Robustness: every operation of the three contracts, fuzzed with hypothesis over HTTP.

The operations come from the specs themselves (`load_spec("klavi.yaml")`,
`load_spec("klavi-payments.yaml")` and `load_spec("mock-admin.yaml")`), so a new operation
is fuzzed without touching this file (test_checks.py fails when one has a path parameter
the world has no real id for, or a body schema it cannot make a valid body for).
Each is called the way a client calls it, through Starlette's TestClient, on an app in strict
mode (a response the spec does not declare fails the test too), with a 2048-byte body limit
and an admin token. Path parameters are real ids (a link, a consent, a task, a webhook
delivery, an instant payment, an Automatic Pix consent and charge created first) unless the
test is about garbage ids.

What it proves, for every operation:

- malformed JSON (truncated, invalid bytes, not UTF-8, up to 2,000 levels of `[` (10,000
  and 100,000 under the default limit), `1e999999`, NaN/Infinity, non-object bodies) is a
  400 naming the body, or the field at fault; duplicate keys are answered like any body;
- a wrong JSON type in any field of the body schema is a 400 naming that field;
- schema-valid bodies (with personas' tax ids, real and unknown institutions, real ids,
  strings of the spec's patterns: ISPBs, amounts...) get
  past validation into the business rules, and their refusals (416, 404, 409...) too leave
  nothing half done;
- unicode (astral characters, lone surrogates escaped as "\\ud800", NUL, RTL marks,
  combining characters...) in body fields and names, query and path parameters and headers
  (Host and Origin included) is answered without an error of the mock's own;
- a body over the limit is a 413, announced by Content-Length or streamed in chunks, and a
  body of exactly the limit is not;
- a body that is not JSON (by Content-Type) is a 415;
- missing or forged tokens (wrong scheme, garbage, another secret, alg "none", tampered,
  the other kind of token (a data-API token on the payments API), an unknown tenant,
  claims the mock never issues) are a 401; an expired token (after advancing the mock clock)
  is a 401 saying so; another tenant's token sees none of our links, consents and tasks;
- with an admin token configured, the control API answers 401 to a missing, wrong or unicode
  X-Mock-Admin-Token;
- garbage path parameters are a 400, 404 or 405 (never a redirect: a trailing "/" is an
  unknown route);
- the bank and hosted-link pages (not in the specs) survive garbage tickets, flows, tokens,
  tax ids, consent ids and institution codes, and never reflect markup unescaped; the Basic
  WhiteLabel URL, opened in a browser, answers its refusals as pages too.

And for every response of every test: status < 500; no traceback in the body; a 4xx in the
JSON API is Klavi's error shape `{"statusCode", "error", "message"}` with `statusCode` equal to
the HTTP status (for 416, a business code 4001-4009 and its title). The bank pages answer
their own refusals as HTML pages for the browser (and the logo route as text/plain);
refusals from the router in front of them (413, 405, 404) are in Klavi's shape. Finally, a
rejected (4xx) request changes nothing: the state seen through the control API
(`/__mock/consents`, `/links`, `/webhooks`, `/tenants`, and the clock's offset; not the
conformance report, which records every request on purpose) is the same before and after.

test_checks.py shows that these checks can fail: a successful request does change the
snapshot, and a body with a traceback is caught. test_regressions.py pins, example by example, the
bugs this fuzzing found (each was a 500 or an off-spec answer). Set KLAVI_FUZZ_SCALE
(default 1) to multiply the number of examples for a deeper run.
"""
