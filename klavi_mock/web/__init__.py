"""Everything HTTP: the request pipeline (`server/`), the APIs served from the contracts
(`apis/`, one package per OpenAPI document), the shared page rendering (`rendering.py`) and the
pages for people (`pages/`: the fake bank, the hosted journey, the QA cockpit)."""
