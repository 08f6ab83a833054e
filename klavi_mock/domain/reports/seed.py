"""Loading the report seed data (fixtures/reports/seed.yaml) once per process."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from klavi_mock.resources import fixtures_dir


@lru_cache(maxsize=1)
def load_seed() -> dict[str, Any]:
    with open(fixtures_dir() / "reports" / "seed.yaml", encoding="utf-8") as fh:
        return yaml.safe_load(fh)
