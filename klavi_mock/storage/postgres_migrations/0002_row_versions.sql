-- Optimistic concurrency: each object row counts its updates. An update names the
-- version it read (`WHERE id = ... AND version = ...`); none updated means another
-- transaction changed the row since, and the change is refused (a conflict), never lost.
ALTER TABLE links ADD COLUMN version integer NOT NULL DEFAULT 0;
ALTER TABLE consents ADD COLUMN version integer NOT NULL DEFAULT 0;
ALTER TABLE tasks ADD COLUMN version integer NOT NULL DEFAULT 0;
ALTER TABLE report_requests ADD COLUMN version integer NOT NULL DEFAULT 0;
ALTER TABLE deliveries ADD COLUMN version integer NOT NULL DEFAULT 0;
