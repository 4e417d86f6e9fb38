-- Complaints (khiếu nại), denunciations (tố cáo) and petitions (kiến nghị, phản ánh): intake from
-- the citizen portal or by an officer, the legal deadlines of each step (computed by
-- domain::deadlines, stored with the case), the workflow's events, suspensions of the clock, and
-- citizens' satisfaction ratings.

CREATE TABLE complaints (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    -- what the citizen keeps to follow the case (random, not guessable from the id)
    tracking_code       TEXT NOT NULL UNIQUE,
    kind                TEXT NOT NULL CHECK (kind IN ('complaint', 'denunciation', 'petition')),
    channel             TEXT NOT NULL CHECK (channel IN ('portal', 'reception', 'letter', 'phone')),
    subject             TEXT NOT NULL CHECK (subject IN ('entitlement_decision', 'payment', 'officer_conduct', 'registry', 'other')),
    title               TEXT NOT NULL,
    content             TEXT NOT NULL,
    -- who filed it (a denouncer's identity is protected: shown only to the handling officer and inspectors)
    filer_name          TEXT NOT NULL,
    filer_personal_id   TEXT,
    filer_phone         TEXT,
    filer_address       TEXT,
    person_id           INTEGER REFERENCES persons (id),
    decision_ref        TEXT,
    commune_code        TEXT NOT NULL REFERENCES communes (code),
    agency_code         TEXT NOT NULL REFERENCES agencies (code),
    received_on         TEXT NOT NULL,
    decision_known_on   TEXT,
    -- filed after the 90-day limit: accepted for the record, flagged with the reason
    late_note           TEXT,
    instance            INTEGER NOT NULL DEFAULT 1 CHECK (instance IN (1, 2)),
    parent_id           INTEGER REFERENCES complaints (id),
    status              TEXT NOT NULL DEFAULT 'received'
                        CHECK (status IN ('received', 'accepted', 'refused', 'verifying', 'decided', 'notified', 'closed')),
    variant             TEXT NOT NULL DEFAULT 'normal',
    -- the written determination that the case is complex (required for the complex variants)
    complex_note        TEXT,
    acceptance_due      TEXT NOT NULL,
    accepted_on         TEXT,
    resolution_due      TEXT,
    assigned_to         TEXT,
    outcome             TEXT CHECK (outcome IS NULL OR outcome IN ('upheld', 'partly_upheld', 'rejected', 'withdrawn', 'forwarded')),
    outcome_note        TEXT,
    decided_on          TEXT,
    notified_on         TEXT,
    closed_on           TEXT,
    created_by          TEXT NOT NULL,
    created_at          TEXT NOT NULL
);
CREATE INDEX complaints_by_status ON complaints (status, agency_code);
CREATE INDEX complaints_by_commune ON complaints (commune_code);

CREATE TABLE complaint_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_id INTEGER NOT NULL REFERENCES complaints (id),
    action       TEXT NOT NULL,
    actor        TEXT NOT NULL,
    at           TEXT NOT NULL,
    note         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX complaint_events_by_complaint ON complaint_events (complaint_id, id);

CREATE TABLE complaint_suspensions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_id INTEGER NOT NULL REFERENCES complaints (id),
    suspended_on TEXT NOT NULL,
    resumed_on   TEXT,
    reason       TEXT NOT NULL
);

-- Citizens' satisfaction (1–5) after a closed case; one rating per case.
CREATE TABLE satisfaction_ratings (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    complaint_id INTEGER NOT NULL UNIQUE REFERENCES complaints (id),
    agency_code  TEXT NOT NULL REFERENCES agencies (code),
    commune_code TEXT NOT NULL,
    score        INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    comment      TEXT NOT NULL DEFAULT '',
    rated_at     TEXT NOT NULL
);
CREATE INDEX satisfaction_by_agency ON satisfaction_ratings (agency_code, commune_code);

INSERT INTO permissions (code, description) VALUES
  ('complaints.read', 'View complaints within the caller''s area (a denouncer''s identity only to the handling officer and inspectors)'),
  ('complaints.handle', 'Record, accept, assign, decide and close complaints');

INSERT INTO role_permissions (role_code, permission_code) VALUES
  ('provincial_officer', 'complaints.read'), ('provincial_officer', 'complaints.handle'),
  ('commune_officer', 'complaints.read'), ('commune_officer', 'complaints.handle'),
  ('inspector', 'complaints.read'), ('leader', 'complaints.read');
