-- The remaining facts the entitlement rules read (docs/entitlements.md): whether the person
-- with merit of a relative has died, the remarried spouse of a martyr, the affected child of an
-- Agent Orange victim, a caregiver at home, studying, and months of resistance seniority.
ALTER TABLE merit_records ADD COLUMN of_deceased BOOLEAN;
ALTER TABLE merit_records ADD COLUMN remarried BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE merit_records ADD COLUMN ao_child BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE merit_records ADD COLUMN caregiver BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE merit_records ADD COLUMN studying BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE merit_records ADD COLUMN seniority_months BIGINT CHECK (seniority_months IS NULL OR seniority_months BETWEEN 0 AND 1200);
