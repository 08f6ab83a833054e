"""The request journal: every request to the Klavi API and its answer, masked, in a bounded
ring (listed, shown and replayed through the control API: /__mock/requests)."""

from klavi_mock.qa.journal.ring import JournalEntry, RequestJournal

__all__ = ["JournalEntry", "RequestJournal"]
