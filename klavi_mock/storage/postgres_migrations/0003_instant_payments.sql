-- Instant Pix payments (payment initiation), as the other objects: the payment as JSON plus
-- the columns its lookups need; `version` for optimistic concurrency as in 0002.
CREATE TABLE instant_payments (
    id text PRIMARY KEY,
    n bigserial NOT NULL,
    tenant_id text NOT NULL,
    request_id text NOT NULL,
    ticket text NOT NULL,
    flow_token text,
    link_token text,
    version integer NOT NULL DEFAULT 0,
    data json NOT NULL
);
CREATE INDEX instant_payments_tenant ON instant_payments (tenant_id, n);
CREATE UNIQUE INDEX instant_payments_request_id ON instant_payments (tenant_id, request_id);
CREATE INDEX instant_payments_ticket ON instant_payments (ticket);
CREATE INDEX instant_payments_flow_token ON instant_payments (flow_token) WHERE flow_token IS NOT NULL;
CREATE INDEX instant_payments_link_token ON instant_payments (link_token) WHERE link_token IS NOT NULL;
