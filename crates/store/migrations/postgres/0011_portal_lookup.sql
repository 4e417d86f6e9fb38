-- Issue 9, second part: attachments of complaints (scans, stored in the database with their
-- checksum), the citizen's self-service lookup (one-time codes printed on a decision or sent by
-- SMS, failed attempts per personal ID, short sessions) and ratings of payments.

CREATE TABLE complaint_attachments (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    complaint_id BIGINT NOT NULL REFERENCES complaints (id),
    file_name    TEXT NOT NULL,
    -- detected from the content (magic bytes), never taken from the client
    content_type TEXT NOT NULL CHECK (content_type IN ('application/pdf', 'image/jpeg', 'image/png')),
    size BIGINT NOT NULL CHECK (size > 0),
    sha256       TEXT NOT NULL,
    data         BYTEA NOT NULL,
    uploaded_by  TEXT NOT NULL,
    uploaded_at  TEXT NOT NULL
);
CREATE INDEX complaint_attachments_by_complaint ON complaint_attachments (complaint_id, id);

-- A code that identifies a citizen together with the personal ID and birth date: printed on an
-- entitlement decision (valid a year, reusable, replaced when reissued) or sent by SMS (valid
-- minutes, used once). Only a salted hash is kept.
CREATE TABLE portal_codes (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES persons (id),
    channel     TEXT NOT NULL CHECK (channel IN ('decision', 'sms')),
    salt        TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    issued_by   TEXT NOT NULL,
    issued_at   TEXT NOT NULL,
    expires_at  TEXT NOT NULL,
    used_at     TEXT,
    revoked_at  TEXT
);
CREATE INDEX portal_codes_by_person ON portal_codes (person_id, channel);

-- Failed identifications and SMS sends per typed personal ID (any 12 digits, registered or
-- not): the per-ID rate limit, shared by every server process.
CREATE TABLE portal_attempts (
    personal_id TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('failure', 'sms')),
    at          TEXT NOT NULL
);
CREATE INDEX portal_attempts_by_id ON portal_attempts (personal_id, kind, at);

-- The state and nonce of an OpenID Connect login under way (single use, minutes).
CREATE TABLE portal_oidc_states (
    state       TEXT PRIMARY KEY,
    nonce       TEXT NOT NULL,
    created_at  TEXT NOT NULL
);

-- An identified citizen's short session (only the hash of the cookie's token is kept).
CREATE TABLE portal_sessions (
    token_hash  TEXT PRIMARY KEY,
    person_id BIGINT NOT NULL REFERENCES persons (id),
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

-- The citizen's satisfaction (1–5) with one paid payment line; once per line.
CREATE TABLE payment_ratings (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    line_id BIGINT NOT NULL UNIQUE REFERENCES payment_lines (id),
    agency_code  TEXT NOT NULL REFERENCES agencies (code),
    commune_code TEXT NOT NULL,
    score BIGINT NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment      TEXT NOT NULL DEFAULT '',
    rated_at     TEXT NOT NULL
);
CREATE INDEX payment_ratings_by_agency ON payment_ratings (agency_code, commune_code);

INSERT INTO permissions (code, description) VALUES
  ('portal.codes', 'Issue a citizen''s lookup code to print on an entitlement decision');
INSERT INTO role_permissions (role_code, permission_code) VALUES
  ('commune_officer', 'portal.codes'), ('provincial_officer', 'portal.codes');
