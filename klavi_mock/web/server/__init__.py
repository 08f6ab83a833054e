"""The request pipeline: routes compiled from the contracts, and the steps every request goes
through (authentication, faults, body, validation, the handler, the response check, the
record), the unit of work per request, web security, the lifespan and uvicorn's protocol."""
