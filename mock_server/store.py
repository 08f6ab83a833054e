"""The mock's state. In memory by default; everything a tenant owns is looked up through
its tenant id, so one partner never sees another's links or consents."""

from __future__ import annotations

from .domain.links import Link


class MemoryStore:
    def __init__(self) -> None:
        self.links: dict[str, Link] = {}

    def add_link(self, link: Link) -> None:
        self.links[link.id] = link

    def get_link(self, tenant_id: str, link_id: str) -> Link | None:
        link = self.links.get(link_id)
        return link if link is not None and link.tenant_id == tenant_id else None

    def list_links(self, tenant_id: str | None = None) -> list[Link]:
        return [link for link in self.links.values() if tenant_id is None or link.tenant_id == tenant_id]

    def reset(self) -> None:
        self.links.clear()
