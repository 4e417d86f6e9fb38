-- The social registry (sổ đối tượng): persons keyed by the personal ID number, households,
-- relationships, merit and social-assistance records, payment methods, decisions, and the
-- maker-checker change requests. Facts are effective-dated: valid_from/valid_to are
-- inclusive ISO dates (valid_to NULL = still valid); a change closes the old row and
-- opens a new one, so the state on any past date can be read back.

CREATE TABLE households (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    code         TEXT NOT NULL UNIQUE,
    commune_code TEXT NOT NULL REFERENCES communes (code),
    address_line TEXT NOT NULL,
    created_at   TEXT NOT NULL
);

-- Poor / near-poor status of a household over time (Decree 07/2021 standard).
CREATE TABLE household_status (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    household_id INTEGER NOT NULL REFERENCES households (id),
    status       TEXT NOT NULL CHECK (status IN ('poor', 'near_poor', 'none')),
    valid_from   TEXT NOT NULL,
    valid_to     TEXT
);
CREATE INDEX household_status_by_household ON household_status (household_id, valid_from);

-- Current state of each person, for search and lists; person_versions holds the earlier
-- states (written when a change is approved), so the state on any date can be read back.
CREATE TABLE persons (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    personal_id    TEXT NOT NULL UNIQUE CHECK (length(personal_id) = 12),
    full_name      TEXT NOT NULL,
    name_key       TEXT NOT NULL,
    -- given name first (`an nguyen van`): typing only the given name is a prefix search too
    given_key      TEXT NOT NULL,
    birth_date     TEXT NOT NULL,
    sex            TEXT NOT NULL CHECK (sex IN ('male', 'female')),
    ethnicity      TEXT NOT NULL,
    commune_code   TEXT NOT NULL REFERENCES communes (code),
    address_line   TEXT NOT NULL,
    legacy_address TEXT,
    phone          TEXT,
    deceased_on    TEXT,
    cmnd           TEXT,
    bhxh_code      TEXT,
    household_id   INTEGER REFERENCES households (id),
    relation_to_head TEXT,
    -- denormalised for lists and filters: merit categories and assistance groups in force
    categories     TEXT NOT NULL DEFAULT '',
    status         TEXT NOT NULL DEFAULT 'living' CHECK (status IN ('living', 'deceased')),
    version        INTEGER NOT NULL DEFAULT 1,
    -- the current state holds from this date; earlier states are in person_versions
    valid_from     TEXT NOT NULL,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);
CREATE INDEX persons_by_commune ON persons (commune_code, name_key);
CREATE INDEX persons_by_name ON persons (name_key);
CREATE INDEX persons_by_given ON persons (given_key);
CREATE INDEX persons_by_household ON persons (household_id);

CREATE TABLE person_versions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id   INTEGER NOT NULL REFERENCES persons (id),
    version     INTEGER NOT NULL,
    valid_from  TEXT NOT NULL,
    valid_to    TEXT,
    snapshot    TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    reason      TEXT NOT NULL,
    change_id   INTEGER,
    UNIQUE (person_id, version)
);
CREATE INDEX person_versions_by_person ON person_versions (person_id, valid_from);

CREATE TABLE relationships (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id         INTEGER NOT NULL REFERENCES persons (id),
    related_person_id INTEGER NOT NULL REFERENCES persons (id),
    kind              TEXT NOT NULL CHECK (kind IN ('father', 'mother', 'spouse', 'child', 'foster_carer')),
    valid_from        TEXT NOT NULL,
    valid_to          TEXT
);
CREATE INDEX relationships_by_person ON relationships (person_id);
CREATE INDEX relationships_by_related ON relationships (related_person_id);

-- Pháp lệnh 02/2020 Art. 3: category a–m of a person with merit, or 'relative' (Art. 3.2).
CREATE TABLE merit_records (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id         INTEGER NOT NULL REFERENCES persons (id),
    category          TEXT NOT NULL CHECK (category IN ('a', 'b', 'c', 'd', 'dd', 'e', 'g', 'h', 'i', 'k', 'l', 'm', 'relative')),
    decision_no       TEXT NOT NULL,
    decision_date     TEXT NOT NULL,
    issuer            TEXT NOT NULL,
    injury_rate       INTEGER CHECK (injury_rate IS NULL OR (injury_rate BETWEEN 1 AND 100)),
    type_b            BOOLEAN NOT NULL DEFAULT FALSE,
    especially_severe BOOLEAN NOT NULL DEFAULT FALSE,
    seniority_from    TEXT,
    martyrs_count     INTEGER,
    linked_person_id  INTEGER REFERENCES persons (id),
    relation          TEXT,
    valid_from        TEXT NOT NULL,
    valid_to          TEXT,
    recorded_at       TEXT NOT NULL,
    recorded_by       TEXT NOT NULL
);
CREATE INDEX merit_records_by_person ON merit_records (person_id, valid_from);

-- Decree 20/2021 Art. 5 groups (k1 … k8) and the facts they depend on. hiv is sensitive.
CREATE TABLE assistance_records (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id        INTEGER NOT NULL REFERENCES persons (id),
    group_code       TEXT NOT NULL CHECK (group_code IN ('k1', 'k2', 'k3', 'k4', 'k5a', 'k5b', 'k5c', 'k5d', 'k6', 'k7', 'k8')),
    disability_level TEXT CHECK (disability_level IS NULL OR disability_level IN ('severe', 'especially_severe')),
    single_parent    BOOLEAN NOT NULL DEFAULT FALSE,
    hiv              BOOLEAN NOT NULL DEFAULT FALSE,
    decision_no      TEXT NOT NULL,
    decision_date    TEXT NOT NULL,
    valid_from       TEXT NOT NULL,
    valid_to         TEXT,
    recorded_at      TEXT NOT NULL,
    recorded_by      TEXT NOT NULL
);
CREATE INDEX assistance_records_by_person ON assistance_records (person_id, valid_from);

-- Cash at the commune pay point, or a bank account (sensitive).
CREATE TABLE payment_methods (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id      INTEGER NOT NULL REFERENCES persons (id),
    method         TEXT NOT NULL CHECK (method IN ('cash', 'bank')),
    bank_name      TEXT,
    account_no     TEXT,
    account_holder TEXT,
    valid_from     TEXT NOT NULL,
    valid_to       TEXT
);
CREATE INDEX payment_methods_by_person ON payment_methods (person_id);

-- Maker-checker: commune officers propose, provincial officers decide.
CREATE TABLE change_requests (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    kind            TEXT NOT NULL CHECK (kind IN ('create_person', 'update_person', 'add_merit', 'add_assistance', 'end_record')),
    person_id       INTEGER REFERENCES persons (id),
    commune_code    TEXT NOT NULL REFERENCES communes (code),
    payload         TEXT NOT NULL,
    reason          TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected')),
    proposed_by     TEXT NOT NULL,
    proposed_at     TEXT NOT NULL,
    decided_by      TEXT,
    decided_at      TEXT,
    decision_reason TEXT
);
CREATE INDEX change_requests_by_status ON change_requests (status, commune_code);

INSERT INTO permissions (code, description) VALUES
  ('registry.read', 'Search and read dossiers within the caller''s area'),
  ('registry.propose', 'Propose new dossiers and changes (maker)'),
  ('registry.approve', 'Approve or reject proposed changes (checker)'),
  ('registry.import', 'Import persons from files'),
  ('registry.sensitive', 'See sensitive fields (health, disability, HIV, bank details); every read is audited');

INSERT INTO role_permissions (role_code, permission_code) VALUES
  ('commune_officer', 'registry.read'), ('commune_officer', 'registry.propose'), ('commune_officer', 'registry.sensitive'),
  ('commune_officer', 'registry.import'),
  ('provincial_officer', 'registry.read'), ('provincial_officer', 'registry.approve'), ('provincial_officer', 'registry.import'),
  ('provincial_officer', 'registry.sensitive'),
  ('inspector', 'registry.read'), ('inspector', 'registry.sensitive');
