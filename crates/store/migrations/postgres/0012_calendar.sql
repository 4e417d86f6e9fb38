-- The working-day calendar as editable yearly data: a year's announced days off and make-up
-- working days (the Government's yearly announcement), replacing the compiled-in rows of that
-- year. A year present here is complete: its weekdays not listed are working days.

CREATE TABLE calendar_days (
    day          TEXT PRIMARY KEY,
    year         BIGINT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
    name         TEXT NOT NULL,
    source       TEXT NOT NULL CHECK (source <> ''),
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX calendar_days_by_year ON calendar_days (year);

INSERT INTO permissions (code, description) VALUES
  ('calendar.manage', 'Record a year''s announced days off and make-up working days');
INSERT INTO role_permissions (role_code, permission_code) VALUES ('admin', 'calendar.manage');
