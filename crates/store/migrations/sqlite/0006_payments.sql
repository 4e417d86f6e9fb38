-- Monthly payment cycles (chi trả hằng tháng): cycles, their lines (one per beneficiary:
-- what is paid, to whom, how) and items (what the amount is made of: benefit item, month it
-- is for, regular / one-off / arrears / recovery / carried), holds, and the policy pack text
-- each cycle was computed with. Lines of a cycle that is no longer a draft cannot be changed
-- or deleted (triggers below); an approved cycle's digest is kept in the audit trail.

-- The pack files a cycle was computed with, by the SHA-256 of their text.
CREATE TABLE policy_snapshots (
    version    TEXT PRIMARY KEY,
    files      TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE payment_cycles (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    month            TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('monthly', 'adhoc')),
    title            TEXT NOT NULL,
    status           TEXT NOT NULL DEFAULT 'draft'
                     CHECK (status IN ('draft', 'checked', 'approved', 'exported', 'reconciled', 'closed')),
    pack_version     TEXT REFERENCES policy_snapshots (version),
    -- first month compared for arrears (months before the first approved cycle are not)
    arrears_from     TEXT,
    lines            INTEGER NOT NULL DEFAULT 0,
    payable_lines    INTEGER NOT NULL DEFAULT 0,
    total            INTEGER NOT NULL DEFAULT 0,
    digest           TEXT,
    -- set while a generation runs (a lock: two generations of one cycle cannot run at once)
    generating_since TEXT,
    created_by       TEXT NOT NULL,
    created_at       TEXT NOT NULL,
    generated_by     TEXT,
    generated_at     TEXT,
    checked_by       TEXT,
    checked_at       TEXT,
    approved_by      TEXT,
    approved_at      TEXT,
    exported_by      TEXT,
    exported_at      TEXT,
    reconciled_at    TEXT,
    closed_by        TEXT,
    closed_at        TEXT
);
CREATE UNIQUE INDEX payment_cycles_one_monthly ON payment_cycles (month) WHERE kind = 'monthly';

CREATE TABLE payment_lines (
    -- allocated by the generation (a block per cycle), so items can refer to their line
    id                INTEGER PRIMARY KEY,
    cycle_id          INTEGER NOT NULL REFERENCES payment_cycles (id),
    person_id         INTEGER NOT NULL REFERENCES persons (id),
    personal_id       TEXT NOT NULL,
    full_name         TEXT NOT NULL,
    commune_code      TEXT NOT NULL,
    -- who collects when not the beneficiary (a relative claiming a deceased person's one-offs)
    payee_name        TEXT,
    payee_personal_id TEXT,
    method            TEXT NOT NULL CHECK (method IN ('cash', 'bank')),
    bank_name         TEXT,
    account_no        TEXT,
    amount            INTEGER NOT NULL,
    status            TEXT NOT NULL CHECK (status IN ('pay', 'held', 'stopped', 'recovery')),
    reason            TEXT,
    result            TEXT CHECK (result IS NULL OR result IN ('paid', 'failed', 'returned')),
    result_note       TEXT,
    result_at         TEXT,
    -- the facts the line was computed from (JSON, docs/entitlements.md)
    facts             TEXT NOT NULL
);
CREATE INDEX payment_lines_by_cycle ON payment_lines (cycle_id, commune_code);
CREATE INDEX payment_lines_by_person ON payment_lines (person_id);

CREATE TABLE payment_items (
    line_id   INTEGER NOT NULL REFERENCES payment_lines (id),
    item      TEXT NOT NULL,
    for_month TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('regular', 'one_off', 'arrears', 'recovery', 'carried')),
    amount    INTEGER NOT NULL
);
CREATE INDEX payment_items_by_line ON payment_items (line_id);

-- Suspension of a person's payments (tạm dừng chi trả): lines held while a hold is open.
CREATE TABLE payment_holds (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id   INTEGER NOT NULL REFERENCES persons (id),
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    released_by TEXT,
    released_at TEXT
);
CREATE INDEX payment_holds_by_person ON payment_holds (person_id);

CREATE TRIGGER payment_lines_frozen_update BEFORE UPDATE OF cycle_id, person_id, personal_id, full_name, commune_code,
    payee_name, payee_personal_id, method, bank_name, account_no, amount, status, reason, facts ON payment_lines
WHEN (SELECT status FROM payment_cycles WHERE id = OLD.cycle_id) <> 'draft'
BEGIN SELECT RAISE(ABORT, 'payment lines of a cycle past draft cannot be changed'); END;
CREATE TRIGGER payment_lines_frozen_delete BEFORE DELETE ON payment_lines
WHEN (SELECT status FROM payment_cycles WHERE id = OLD.cycle_id) <> 'draft'
BEGIN SELECT RAISE(ABORT, 'payment lines of a cycle past draft cannot be deleted'); END;
CREATE TRIGGER payment_items_frozen_update BEFORE UPDATE ON payment_items
BEGIN SELECT RAISE(ABORT, 'payment items cannot be changed'); END;
CREATE TRIGGER payment_items_frozen_delete BEFORE DELETE ON payment_items
WHEN (SELECT c.status FROM payment_lines l JOIN payment_cycles c ON c.id = l.cycle_id WHERE l.id = OLD.line_id) <> 'draft'
BEGIN SELECT RAISE(ABORT, 'payment items of a cycle past draft cannot be deleted'); END;

INSERT INTO roles (code, name_vi, name_en, scope_kind, staff) VALUES
  ('department_head', 'Lãnh đạo Sở (phê duyệt chi trả)', 'Head of department (approves payments)', 'province', TRUE);

INSERT INTO permissions (code, description) VALUES
  ('payments.read', 'View payment cycles, lines and pay-point lists within the caller''s area'),
  ('payments.prepare', 'Generate payment cycles, export their files and import payment results (maker)'),
  ('payments.check', 'Check a payment cycle prepared by someone else (second officer)'),
  ('payments.approve', 'Approve a checked payment cycle (head of department)'),
  ('payments.hold', 'Suspend and resume a person''s payments');

INSERT INTO role_permissions (role_code, permission_code) VALUES
  ('provincial_officer', 'payments.read'), ('provincial_officer', 'payments.prepare'),
  ('provincial_officer', 'payments.check'), ('provincial_officer', 'payments.hold'),
  ('commune_officer', 'payments.read'), ('commune_officer', 'payments.hold'),
  ('department_head', 'payments.read'), ('department_head', 'payments.approve'), ('department_head', 'units.read'),
  ('department_head', 'dashboards.read'), ('department_head', 'registry.read'), ('department_head', 'tokens.own'),
  ('leader', 'payments.read'),
  ('inspector', 'payments.read');
