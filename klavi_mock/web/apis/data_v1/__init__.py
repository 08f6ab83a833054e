"""The Klavi data API (/data/v1, openapi/klavi.yaml): `handlers.py` holds the table of every
operation (and the aliases real clients send); one module per resource; `views.py` how domain
objects look on the wire."""
