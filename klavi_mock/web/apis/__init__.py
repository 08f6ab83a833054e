"""One package per OpenAPI document: `data_v1` (openapi/klavi.yaml), `payments`
(openapi/klavi-payments.yaml) and `control` (openapi/mock-admin.yaml). Each has
`handlers.py`, the table of one handler per operationId."""
