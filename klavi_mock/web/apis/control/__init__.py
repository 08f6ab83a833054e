"""The control API (/__mock, openapi/mock-admin.yaml): `handlers.py` holds the table of every
operation; `cockpit.py` and `faults.py` the handlers the cockpit and fault rules add; `views.py`
how QA sees a consent."""
