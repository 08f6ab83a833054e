"""The Klavi API and the control API, in-process over HTTP (Starlette's TestClient, strict mode)."""
