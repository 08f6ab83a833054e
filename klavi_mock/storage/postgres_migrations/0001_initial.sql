-- klavi-mock's PostgreSQL schema, version 1. One row per stored object: the object as
-- JSON (`data`, as storage/records.py writes it; json, not jsonb, keeps the key order a
-- client gave, e.g. in externalInfo) plus the columns its lookups need.
-- `n` is creation order (lists are in creation order).

CREATE TABLE links (
    id text PRIMARY KEY,
    n bigserial NOT NULL,
    tenant_id text NOT NULL,
    data json NOT NULL
);
CREATE INDEX links_tenant ON links (tenant_id, n);

CREATE TABLE consents (
    id text PRIMARY KEY,
    n bigserial NOT NULL,
    tenant_id text NOT NULL,
    track_id text NOT NULL,
    ticket text NOT NULL,
    flow_token text,
    tax_id text NOT NULL,
    data json NOT NULL
);
CREATE INDEX consents_tenant ON consents (tenant_id, n);
CREATE INDEX consents_track_id ON consents (tenant_id, track_id);
CREATE INDEX consents_ticket ON consents (ticket);
CREATE INDEX consents_tax_id ON consents (tenant_id, tax_id);
CREATE INDEX consents_flow_token ON consents (flow_token) WHERE flow_token IS NOT NULL;

CREATE TABLE tasks (
    id text PRIMARY KEY,
    n bigserial NOT NULL,
    tenant_id text NOT NULL,
    link_id text,
    connection_key text,
    data json NOT NULL
);
CREATE INDEX tasks_link ON tasks (link_id, n);
CREATE INDEX tasks_connection ON tasks (tenant_id, connection_key);

CREATE TABLE report_requests (
    id text PRIMARY KEY,
    n bigserial NOT NULL,
    tenant_id text NOT NULL,
    tax_id text,
    created_at timestamptz NOT NULL,
    report_ids text[] NOT NULL,
    data json NOT NULL
);
CREATE INDEX report_requests_tenant ON report_requests (tenant_id, created_at);
CREATE INDEX report_requests_tax_id ON report_requests (tax_id);
CREATE INDEX report_requests_report_ids ON report_requests USING gin (report_ids);

-- The webhook log and outbox. A pending delivery with a destination is in the outbox;
-- `claimed_until`/`claimed_by` are the lease of the instance attempting it.
CREATE SEQUENCE delivery_numbers;
CREATE TABLE deliveries (
    id text PRIMARY KEY,
    seq bigint NOT NULL UNIQUE,
    tenant_id text NOT NULL,
    kind text NOT NULL,
    name text NOT NULL,
    status text NOT NULL,
    request_id text,
    ordering_key text,
    parent_key text,
    destination text,
    next_attempt_at timestamptz NOT NULL,
    claimed_until timestamptz,
    claimed_by text,
    data json NOT NULL
);
CREATE INDEX deliveries_outbox ON deliveries (destination, seq) WHERE status = 'pending' AND destination IS NOT NULL;
CREATE INDEX deliveries_status ON deliveries (status, seq);
CREATE INDEX deliveries_tenant ON deliveries (tenant_id, seq);
CREATE INDEX deliveries_request ON deliveries (request_id) WHERE request_id IS NOT NULL;

-- Small named values shared by every instance: the clock's offset, the token secret, tenant
-- settings, fault rules, webhook chaos. `meta_changes.n` counts every committed write (its row
-- lock puts the writers in commit order), so an instance sees
-- with one cheap read whether anything it keeps in memory must be read again.
CREATE TABLE meta (
    key text PRIMARY KEY,
    value json NOT NULL
);
CREATE TABLE meta_changes (one boolean PRIMARY KEY DEFAULT true CHECK (one), n bigint NOT NULL);
INSERT INTO meta_changes (n) VALUES (0);

-- The secret that signs tokens, made once for the database, so a token one instance issued
-- is accepted by every other (two instances starting at once agree on it).
INSERT INTO meta (key, value)
VALUES ('token_secret', to_json(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '')));
