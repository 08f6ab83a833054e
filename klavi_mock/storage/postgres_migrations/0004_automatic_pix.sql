-- Automatic Pix (issue 24): recurring-payment consents and the payments charged against
-- them, one row per object as the other tables (the object as JSON, the lookup columns, a
-- row version as 0002 gave every table).

CREATE TABLE automatic_consents (
    id text PRIMARY KEY,
    n bigserial NOT NULL,
    tenant_id text NOT NULL,
    client_request_id text NOT NULL,
    ticket text NOT NULL,
    version integer NOT NULL DEFAULT 0,
    data json NOT NULL
);
CREATE INDEX automatic_consents_tenant ON automatic_consents (tenant_id, n);
CREATE INDEX automatic_consents_request ON automatic_consents (tenant_id, client_request_id);
CREATE INDEX automatic_consents_ticket ON automatic_consents (ticket);

CREATE TABLE automatic_payments (
    id text PRIMARY KEY,
    n bigserial NOT NULL,
    tenant_id text NOT NULL,
    consent_id text NOT NULL,
    client_request_id text NOT NULL,
    version integer NOT NULL DEFAULT 0,
    data json NOT NULL
);
CREATE INDEX automatic_payments_consent ON automatic_payments (consent_id, n);
CREATE INDEX automatic_payments_request ON automatic_payments (tenant_id, client_request_id);
