"""The contract, loaded once from openapi/*.yaml: operations with their validators compiled up
front, and the request validation every handler relies on."""
