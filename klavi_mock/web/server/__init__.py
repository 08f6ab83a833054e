"""The request pipeline: `pipeline.py` reads its steps in order (authenticate, faults, body,
validate, handle, check_response, commit, record; errors for Klavi-shaped refusals), each a
module here; `routing.py` compiles the routes from the contracts (the Klavi API as one mount);
`call.py` is what a handler gets; `security.py`, `lifespan.py` and uvicorn's `protocol.py`."""
