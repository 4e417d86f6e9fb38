-- Foundation schema (SQLite). Keep in step with ../postgres/0001_foundation.sql:
-- the storage contract tests run the same assertions against both.

CREATE TABLE app_meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Administrative units in force since 2025-07-01 (Quyết định 19/2025/QĐ-TTg).
CREATE TABLE provinces (
    code              TEXT PRIMARY KEY,
    name              TEXT NOT NULL,
    name_key          TEXT NOT NULL,
    predecessor_codes TEXT NOT NULL,
    commune_count     INTEGER NOT NULL,
    valid_from        TEXT NOT NULL DEFAULT '2025-07-01'
);

CREATE TABLE communes (
    code          TEXT PRIMARY KEY CHECK (length(code) = 5),
    name          TEXT NOT NULL,
    name_key      TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('xa', 'phuong', 'dac_khu')),
    province_code TEXT NOT NULL REFERENCES provinces (code),
    valid_from    TEXT NOT NULL DEFAULT '2025-07-01'
);
CREATE INDEX communes_by_province ON communes (province_code, name_key);
CREATE INDEX communes_by_name_key ON communes (name_key);

-- Pre-2025 communes and the commune each went into (a split unit has several rows).
CREATE TABLE legacy_communes (
    code           TEXT NOT NULL CHECK (length(code) = 5),
    name           TEXT NOT NULL,
    name_key       TEXT NOT NULL,
    successor_code TEXT NOT NULL REFERENCES communes (code),
    partial        INTEGER NOT NULL CHECK (partial IN (0, 1)),
    valid_to       TEXT NOT NULL DEFAULT '2025-06-30',
    PRIMARY KEY (code, successor_code)
);
CREATE INDEX legacy_communes_by_successor ON legacy_communes (successor_code);
CREATE INDEX legacy_communes_by_name_key ON legacy_communes (name_key);
