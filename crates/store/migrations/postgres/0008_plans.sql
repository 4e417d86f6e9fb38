-- Plan monitoring: plans (a province's plan implementing a Government resolution), their
-- sections and tasks assigned to agencies (effective-dated, so a reorganisation moves a
-- task without rewriting history), indicators with targets per year and unit, agencies'
-- periodic reports (Decree 09/2019) with a return/accept workflow, and the values reported.
-- Values carry the unit code as it was when reported: a period ending before 2025-07-01
-- refers to pre-2025 units (legacy_communes), later ones to the units in force.

CREATE TABLE agency_changes (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agency_code    TEXT NOT NULL REFERENCES agencies (code),
    changed_on     TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('created', 'renamed', 'merged', 'split', 'dissolved')),
    -- the agency that took over (a split has one row per successor and field)
    successor_code TEXT REFERENCES agencies (code),
    field          TEXT NOT NULL DEFAULT '',
    note           TEXT NOT NULL,
    source         TEXT NOT NULL
);
CREATE INDEX agency_changes_by_agency ON agency_changes (agency_code, changed_on);

CREATE TABLE plans (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    title           TEXT NOT NULL,
    issued_on       TEXT NOT NULL,
    issuer          TEXT NOT NULL,
    legal_basis     TEXT NOT NULL,
    period_from     TEXT NOT NULL,
    period_to       TEXT NOT NULL,
    parent_id       BIGINT  REFERENCES plans (id),
    -- the parent as cited when it is not in the database (a Government resolution)
    parent_ref      TEXT NOT NULL DEFAULT '',
    owner_agency    TEXT NOT NULL REFERENCES agencies (code),
    -- comma-separated period kinds agencies report on (six_monthly,annual)
    report_kinds    TEXT NOT NULL,
    -- working days from a period's cut-off to its submission deadline (Decree 09/2019: ≥ 1)
    report_due_days BIGINT NOT NULL CHECK (report_due_days >= 1),
    created_by      TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    CHECK (period_from <= period_to)
);

CREATE TABLE plan_sections (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id BIGINT  NOT NULL REFERENCES plans (id),
    code    TEXT NOT NULL,
    title   TEXT NOT NULL,
    ord     BIGINT NOT NULL,
    UNIQUE (plan_id, code)
);

CREATE TABLE plan_tasks (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id         BIGINT  NOT NULL REFERENCES plans (id),
    section_id      BIGINT  NOT NULL REFERENCES plan_sections (id),
    code            TEXT NOT NULL,
    content         TEXT NOT NULL,
    -- `2025-12-31` | `every:annual` | `every:six_monthly` | … | `continuous`
    deadline        TEXT NOT NULL,
    expected_output TEXT NOT NULL,
    ord             BIGINT NOT NULL,
    UNIQUE (plan_id, code)
);

CREATE TABLE plan_task_agencies (
    task_id     BIGINT  NOT NULL REFERENCES plan_tasks (id),
    agency_code TEXT NOT NULL REFERENCES agencies (code),
    role        TEXT NOT NULL CHECK (role IN ('lead', 'coordinate')),
    valid_from  TEXT NOT NULL,
    valid_to    TEXT,
    reason      TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (task_id, agency_code, role, valid_from)
);
CREATE INDEX plan_task_agencies_by_agency ON plan_task_agencies (agency_code);

CREATE TABLE indicators (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id        BIGINT  NOT NULL REFERENCES plans (id),
    code           TEXT NOT NULL,
    name_vi        TEXT NOT NULL,
    name_en        TEXT NOT NULL,
    unit           TEXT NOT NULL CHECK (unit IN ('percent', 'persons', 'households', 'count', 'vnd', 'points')),
    direction      TEXT NOT NULL CHECK (direction IN ('higher', 'lower')),
    baseline_milli BIGINT,
    baseline_year  BIGINT,
    source         TEXT NOT NULL CHECK (source IN ('reported', 'computed')),
    computed_key   TEXT,
    -- who reports it (reported indicators)
    agency_code    TEXT REFERENCES agencies (code),
    min_milli      BIGINT,
    max_milli      BIGINT,
    legal_basis    TEXT NOT NULL,
    ord            BIGINT NOT NULL,
    UNIQUE (plan_id, code),
    CHECK ((source = 'reported' AND agency_code IS NOT NULL) OR (source = 'computed' AND computed_key IS NOT NULL))
);

CREATE TABLE indicator_targets (
    indicator_id BIGINT  NOT NULL REFERENCES indicators (id),
    year         BIGINT NOT NULL,
    unit_level   TEXT NOT NULL CHECK (unit_level IN ('province', 'commune')),
    unit_code    TEXT NOT NULL,
    target_milli BIGINT NOT NULL,
    PRIMARY KEY (indicator_id, year, unit_level, unit_code)
);

CREATE TABLE plan_reports (
    id                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plan_id            BIGINT  NOT NULL REFERENCES plans (id),
    agency_code        TEXT NOT NULL REFERENCES agencies (code),
    period             TEXT NOT NULL,
    period_kind        TEXT NOT NULL,
    window_from        TEXT NOT NULL,
    window_to          TEXT NOT NULL,
    due_on             TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'submitted', 'returned', 'accepted')),
    revision           BIGINT NOT NULL DEFAULT 0,
    summary            TEXT NOT NULL DEFAULT '',
    first_submitted_at TEXT,
    submitted_at       TEXT,
    submitted_by       TEXT,
    decided_at         TEXT,
    decided_by         TEXT,
    comment            TEXT,
    created_by         TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    UNIQUE (plan_id, agency_code, period)
);
CREATE INDEX plan_reports_by_status ON plan_reports (plan_id, status);

CREATE TABLE report_task_progress (
    report_id    BIGINT  NOT NULL REFERENCES plan_reports (id),
    task_id      BIGINT  NOT NULL REFERENCES plan_tasks (id),
    progress     TEXT NOT NULL CHECK (progress IN ('not_started', 'in_progress', 'done')),
    completed_on TEXT,
    note         TEXT NOT NULL,
    PRIMARY KEY (report_id, task_id)
);
CREATE INDEX report_task_progress_by_task ON report_task_progress (task_id);

CREATE TABLE indicator_values (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    indicator_id BIGINT  NOT NULL REFERENCES indicators (id),
    report_id    BIGINT  NOT NULL REFERENCES plan_reports (id),
    period       TEXT NOT NULL,
    period_end   TEXT NOT NULL,
    unit_level   TEXT NOT NULL CHECK (unit_level IN ('province', 'commune')),
    unit_code    TEXT NOT NULL,
    value_milli  BIGINT NOT NULL,
    note         TEXT NOT NULL DEFAULT '',
    UNIQUE (indicator_id, period, unit_level, unit_code)
);
CREATE INDEX indicator_values_by_report ON indicator_values (report_id);

-- Every step of a report with what it contained then: a returned report keeps its history.
CREATE TABLE report_events (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    report_id BIGINT  NOT NULL REFERENCES plan_reports (id),
    revision  BIGINT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('created', 'saved', 'submitted', 'returned', 'accepted')),
    actor     TEXT NOT NULL,
    at        TEXT NOT NULL,
    comment   TEXT NOT NULL DEFAULT '',
    content   TEXT NOT NULL
);
CREATE INDEX report_events_by_report ON report_events (report_id, id);

-- Periods the plan owner closed: no report is created, changed or submitted for them.
CREATE TABLE plan_period_closures (
    plan_id   BIGINT  NOT NULL REFERENCES plans (id),
    period    TEXT NOT NULL,
    closed_by TEXT NOT NULL,
    closed_at TEXT NOT NULL,
    PRIMARY KEY (plan_id, period)
);

-- An accepted report is locked: neither it nor its content can change.
CREATE FUNCTION plan_reports_locked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'reports are never deleted';
    END IF;
    IF OLD.status = 'accepted' THEN
        RAISE EXCEPTION 'an accepted report is locked';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER plan_reports_locked BEFORE UPDATE OR DELETE ON plan_reports
    FOR EACH ROW EXECUTE FUNCTION plan_reports_locked();
CREATE FUNCTION report_content_locked() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rid BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN rid := NEW.report_id; ELSE rid := OLD.report_id; END IF;
    IF (SELECT status FROM plan_reports WHERE id = rid) = 'accepted' THEN
        RAISE EXCEPTION 'an accepted report is locked';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER report_task_progress_locked BEFORE INSERT OR UPDATE OR DELETE ON report_task_progress
    FOR EACH ROW EXECUTE FUNCTION report_content_locked();
CREATE TRIGGER indicator_values_locked BEFORE INSERT OR UPDATE OR DELETE ON indicator_values
    FOR EACH ROW EXECUTE FUNCTION report_content_locked();
CREATE FUNCTION report_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'report history is append-only';
END;
$$;
CREATE TRIGGER report_events_append_only BEFORE UPDATE OR DELETE ON report_events
    FOR EACH ROW EXECUTE FUNCTION report_events_append_only();

-- Agencies before and after the 2025 reorganisation (Nghị quyết 190/2025/QH15; in Đồng Nai
-- the departments were merged from 2025-03-01): the old ones stay, inactive, so that tasks and
-- reports assigned to them keep their meaning.
INSERT INTO agencies (code, name_vi, name_en, kind, active) VALUES
  ('SO_LDTBXH', 'Sở Lao động - Thương binh và Xã hội', 'Department of Labour, Invalids and Social Affairs', 'department', FALSE),
  ('SO_KHDT', 'Sở Kế hoạch và Đầu tư', 'Department of Planning and Investment', 'department', FALSE),
  ('SO_TTTT', 'Sở Thông tin và Truyền thông', 'Department of Information and Communications', 'department', FALSE),
  ('SO_KHCN', 'Sở Khoa học và Công nghệ', 'Department of Science and Technology', 'department', TRUE),
  ('SO_TU_PHAP', 'Sở Tư pháp', 'Department of Justice', 'department', TRUE),
  ('UBND_XA', 'Ủy ban nhân dân các xã, phường', 'People''s Committees of the communes', 'other', TRUE),
  ('MTTQ', 'Ủy ban Mặt trận Tổ quốc Việt Nam tỉnh', 'Provincial Fatherland Front Committee', 'other', TRUE),
  ('BCHQS', 'Bộ Chỉ huy Quân sự tỉnh', 'Provincial Military Command', 'other', TRUE);

INSERT INTO agency_changes (agency_code, changed_on, kind, successor_code, field, note, source) VALUES
  ('SO_LDTBXH', '2025-03-01', 'split', 'SO_NOI_VU', 'người có công, lao động, việc làm, bảo hiểm xã hội',
   'Chính sách người có công, lao động, việc làm chuyển về Sở Nội vụ', 'Nghị quyết 190/2025/QH15; sắp xếp các sở tỉnh Đồng Nai từ 01/3/2025 (secondary)'),
  ('SO_LDTBXH', '2025-03-01', 'split', 'SO_Y_TE', 'bảo trợ xã hội, trẻ em',
   'Bảo trợ xã hội, trẻ em chuyển về Sở Y tế', 'Nghị quyết 190/2025/QH15; sắp xếp các sở tỉnh Đồng Nai từ 01/3/2025 (secondary)'),
  ('SO_LDTBXH', '2025-03-01', 'split', 'SO_GD_DT', 'giáo dục nghề nghiệp',
   'Giáo dục nghề nghiệp chuyển về Sở Giáo dục và Đào tạo', 'Nghị quyết 190/2025/QH15; sắp xếp các sở tỉnh Đồng Nai từ 01/3/2025 (secondary)'),
  ('SO_LDTBXH', '2025-03-01', 'split', 'SO_NN_MT', 'giảm nghèo',
   'Giảm nghèo chuyển về Sở Nông nghiệp và Môi trường', 'Nghị quyết 190/2025/QH15; sắp xếp các sở tỉnh Đồng Nai từ 01/3/2025 (secondary)'),
  ('SO_KHDT', '2025-03-01', 'merged', 'SO_TAI_CHINH', '',
   'Hợp nhất Sở Kế hoạch và Đầu tư với Sở Tài chính', 'Nghị quyết 190/2025/QH15 (secondary)'),
  ('SO_TTTT', '2025-03-01', 'merged', 'SO_KHCN', '',
   'Hợp nhất Sở Thông tin và Truyền thông với Sở Khoa học và Công nghệ', 'Nghị quyết 190/2025/QH15 (secondary)');

INSERT INTO permissions (code, description) VALUES
  ('plans.read', 'View plans, their tasks, indicators and reports (an agency reporter: its own reports)'),
  ('plans.report', 'Prepare and submit the caller''s agency''s periodic reports'),
  ('plans.review', 'Accept or return agencies'' reports (the plan owner''s agency)'),
  ('plans.manage', 'Import plans and close report periods');

INSERT INTO role_permissions (role_code, permission_code) VALUES
  ('provincial_officer', 'plans.read'), ('provincial_officer', 'plans.report'),
  ('provincial_officer', 'plans.review'), ('provincial_officer', 'plans.manage'),
  ('agency_reporter', 'plans.read'), ('agency_reporter', 'plans.report'),
  ('leader', 'plans.read'), ('inspector', 'plans.read'), ('commune_officer', 'plans.read'),
  ('department_head', 'plans.read'), ('department_head', 'plans.review');
