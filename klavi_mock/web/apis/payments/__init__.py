"""Klavi's payments API (/payment, openapi/klavi-payments.yaml): the customer API
(authentication, instant payments, Automatic Pix) and the management API. `handlers.py` holds
the table of every operation; one module per resource."""
