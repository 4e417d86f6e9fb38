-- Accounts, roles as data, sessions, API tokens, and the hash-chained audit trail (SQLite).
-- Timestamps are TEXT in RFC 3339 UTC with microseconds ("2026-11-29T12:00:00.000000Z"),
-- identical on both backends so that audit hashes do not depend on the database.

CREATE TABLE agencies (
    code    TEXT PRIMARY KEY,
    name_vi TEXT NOT NULL,
    name_en TEXT NOT NULL,
    kind    TEXT NOT NULL CHECK (kind IN ('province', 'department', 'other')),
    active  BOOLEAN NOT NULL DEFAULT TRUE
);

CREATE TABLE roles (
    code       TEXT PRIMARY KEY,
    name_vi    TEXT NOT NULL,
    name_en    TEXT NOT NULL,
    scope_kind TEXT NOT NULL CHECK (scope_kind IN ('province', 'communes', 'agency', 'self')),
    staff      BOOLEAN NOT NULL
);

CREATE TABLE permissions (
    code        TEXT PRIMARY KEY,
    description TEXT NOT NULL
);

CREATE TABLE role_permissions (
    role_code       TEXT NOT NULL REFERENCES roles (code),
    permission_code TEXT NOT NULL REFERENCES permissions (code),
    PRIMARY KEY (role_code, permission_code)
);

CREATE TABLE users (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    username             TEXT NOT NULL UNIQUE,
    full_name            TEXT NOT NULL,
    name_key             TEXT NOT NULL,
    role_code            TEXT NOT NULL REFERENCES roles (code),
    agency_code          TEXT REFERENCES agencies (code),
    password_hash        TEXT NOT NULL,
    must_change_password BOOLEAN NOT NULL DEFAULT FALSE,
    disabled             BOOLEAN NOT NULL DEFAULT FALSE,
    failed_logins        INTEGER NOT NULL DEFAULT 0,
    locked_until         TEXT,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL
);

CREATE TABLE user_communes (
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    commune_code TEXT NOT NULL REFERENCES communes (code),
    PRIMARY KEY (user_id, commune_code)
);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    last_seen_at TEXT NOT NULL,
    ip           TEXT,
    user_agent   TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    scopes       TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    revoked_at   TEXT,
    last_used_at TEXT
);
CREATE INDEX api_tokens_by_user ON api_tokens (user_id);

-- Append-only, hash-chained: hash = SHA-256 over prev_hash and the entry's fields
-- (see store::audit::entry_hash). audit_head holds the latest (seq, hash).
CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY,
    at            TEXT NOT NULL,
    actor_user_id INTEGER,
    actor         TEXT NOT NULL,
    ip            TEXT,
    request_id    TEXT,
    action        TEXT NOT NULL,
    entity_type   TEXT NOT NULL,
    entity_id     TEXT,
    before_json   TEXT,
    after_json    TEXT,
    detail        TEXT,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL
);
CREATE INDEX audit_by_at ON audit_log (at);
CREATE INDEX audit_by_actor ON audit_log (actor);
CREATE INDEX audit_by_entity ON audit_log (entity_type, entity_id);

CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

-- Agencies as data (renamed and merged often: the 2025 reorganisation moved
-- people-with-merit policy from Sở Lao động - Thương binh và Xã hội to Sở Nội vụ).
INSERT INTO agencies (code, name_vi, name_en, kind) VALUES
  ('UBND_TINH', 'Ủy ban nhân dân tỉnh', 'Provincial People''s Committee', 'province'),
  ('SO_NOI_VU', 'Sở Nội vụ', 'Department of Home Affairs', 'department'),
  ('SO_Y_TE', 'Sở Y tế', 'Department of Health', 'department'),
  ('SO_TAI_CHINH', 'Sở Tài chính', 'Department of Finance', 'department'),
  ('SO_GD_DT', 'Sở Giáo dục và Đào tạo', 'Department of Education and Training', 'department'),
  ('SO_NN_MT', 'Sở Nông nghiệp và Môi trường', 'Department of Agriculture and Environment', 'department'),
  ('SO_VHTTDL', 'Sở Văn hóa, Thể thao và Du lịch', 'Department of Culture, Sports and Tourism', 'department'),
  ('THANH_TRA', 'Thanh tra tỉnh', 'Provincial Inspectorate', 'department'),
  ('CONG_AN', 'Công an tỉnh', 'Provincial Police', 'department'),
  ('BHXH', 'Bảo hiểm xã hội tỉnh', 'Provincial Social Security Office', 'other');

INSERT INTO roles (code, name_vi, name_en, scope_kind, staff) VALUES
  ('admin', 'Quản trị hệ thống', 'System administrator', 'province', TRUE),
  ('provincial_officer', 'Cán bộ cấp tỉnh (Sở)', 'Provincial officer (department)', 'province', TRUE),
  ('commune_officer', 'Cán bộ cấp xã', 'Commune officer', 'communes', TRUE),
  ('agency_reporter', 'Cán bộ báo cáo của cơ quan', 'Agency reporter', 'agency', TRUE),
  ('leader', 'Lãnh đạo', 'Leader', 'province', TRUE),
  ('inspector', 'Thanh tra', 'Inspector', 'province', TRUE),
  ('citizen', 'Công dân', 'Citizen', 'self', FALSE);

INSERT INTO permissions (code, description) VALUES
  ('units.read', 'View administrative units'),
  ('commune.workspace', 'Open the workspace of a commune within the caller''s area'),
  ('dashboards.read', 'View leader dashboards'),
  ('users.read', 'View user accounts'),
  ('users.manage', 'Create, disable and reset user accounts'),
  ('audit.read', 'Search the audit trail'),
  ('audit.verify', 'Verify the audit trail''s hash chain'),
  ('tokens.own', 'Create and revoke one''s own API tokens');

INSERT INTO role_permissions (role_code, permission_code) VALUES
  ('admin', 'units.read'), ('admin', 'users.read'), ('admin', 'users.manage'),
  ('admin', 'audit.read'), ('admin', 'audit.verify'), ('admin', 'tokens.own'),
  ('provincial_officer', 'units.read'), ('provincial_officer', 'commune.workspace'),
  ('provincial_officer', 'dashboards.read'), ('provincial_officer', 'tokens.own'),
  ('commune_officer', 'units.read'), ('commune_officer', 'commune.workspace'), ('commune_officer', 'tokens.own'),
  ('agency_reporter', 'units.read'), ('agency_reporter', 'tokens.own'),
  ('leader', 'units.read'), ('leader', 'dashboards.read'),
  ('inspector', 'units.read'), ('inspector', 'commune.workspace'), ('inspector', 'dashboards.read'),
  ('inspector', 'users.read'), ('inspector', 'audit.read'), ('inspector', 'audit.verify');
