-- Integrity: anti-fraud checks over the registry and the payments, and the review queue.
-- A check run finds cases; a case is one finding (a pair of records that look like one
-- person, a deceased person still paid, an account shared by unrelated beneficiaries …)
-- with its evidence, assigned to an officer and resolved: confirmed (payments suspended,
-- a recovery opened) or a false positive (never flagged again).

CREATE TABLE integrity_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_by  TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    -- per check: found, new (JSON)
    summary     TEXT
);

CREATE TABLE integrity_cases (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    check_code       TEXT NOT NULL CHECK (check_code IN ('duplicate', 'paid_twice', 'id_inconsistent', 'deceased_paid',
                         'implausible_age', 'shared_account', 'incompatible_benefits', 'age_lapsed', 'uncollected')),
    -- what the finding is about (check + persons + account …): a rerun finds the same key
    -- and does not open the case again, whatever its status
    case_key         TEXT NOT NULL UNIQUE,
    person_id        BIGINT NOT NULL REFERENCES persons (id),
    other_person_id  BIGINT REFERENCES persons (id),
    commune_code     TEXT NOT NULL,
    -- match probability of a pair (duplicate checks), else NULL
    score            DOUBLE PRECISION,
    summary          TEXT NOT NULL,
    evidence         TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'confirmed', 'false_positive')),
    assigned_to      TEXT,
    assigned_by      TEXT,
    assigned_at      TEXT,
    found_run        BIGINT NOT NULL REFERENCES integrity_runs (id),
    found_at         TEXT NOT NULL,
    last_seen_run    BIGINT NOT NULL REFERENCES integrity_runs (id),
    resolved_by      TEXT,
    resolved_at      TEXT,
    resolution_note  TEXT,
    -- on confirmation: the record whose payments were suspended and the hold placed
    suspended_person_id BIGINT REFERENCES persons (id),
    hold_id          BIGINT REFERENCES payment_holds (id)
);
CREATE INDEX integrity_cases_by_status ON integrity_cases (status, check_code, commune_code);
CREATE INDEX integrity_cases_by_person ON integrity_cases (person_id);
CREATE INDEX integrity_cases_by_other ON integrity_cases (other_person_id);

-- Pairs of records an officer found to be two different people: never flagged again.
CREATE TABLE distinct_persons (
    person_a   BIGINT NOT NULL REFERENCES persons (id),
    person_b   BIGINT NOT NULL REFERENCES persons (id),
    case_id    BIGINT REFERENCES integrity_cases (id),
    decided_by TEXT NOT NULL,
    decided_at TEXT NOT NULL,
    PRIMARY KEY (person_a, person_b),
    CHECK (person_a < person_b)
);

-- Money to be recovered (truy thu) after a confirmed case.
CREATE TABLE recoveries (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id    BIGINT NOT NULL REFERENCES integrity_cases (id),
    person_id  BIGINT NOT NULL REFERENCES persons (id),
    amount     BIGINT NOT NULL CHECK (amount > 0),
    reason     TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'recovered', 'waived')),
    opened_by  TEXT NOT NULL,
    opened_at  TEXT NOT NULL
);
CREATE INDEX recoveries_by_person ON recoveries (person_id);

-- Proofs of life (xác nhận còn sống) for the very old: a check flags people aged 100 and
-- more who are paid without one in the last 12 months.
CREATE TABLE life_proofs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    person_id   BIGINT NOT NULL REFERENCES persons (id),
    proved_on   TEXT NOT NULL,
    how         TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX life_proofs_by_person ON life_proofs (person_id, proved_on);

INSERT INTO permissions (code, description) VALUES
  ('integrity.read', 'View integrity cases and their evidence within the caller''s area'),
  ('integrity.run', 'Run the integrity checks over the registry and the payments'),
  ('integrity.resolve', 'Assign and resolve integrity cases (confirm: suspend payments and open a recovery)');

INSERT INTO role_permissions (role_code, permission_code) VALUES
  ('provincial_officer', 'integrity.read'), ('provincial_officer', 'integrity.run'),
  ('provincial_officer', 'integrity.resolve'),
  ('inspector', 'integrity.read'), ('inspector', 'integrity.run'), ('inspector', 'integrity.resolve'),
  ('commune_officer', 'integrity.read');
