-- The remaining facts the entitlement rules read (docs/entitlements.md): whether the person
-- with merit of a relative has died, the remarried spouse of a martyr, the affected child of an
-- Agent Orange victim, a caregiver at home, studying, and months of resistance seniority.
ALTER TABLE merit_records ADD COLUMN of_deceased INTEGER CHECK (of_deceased IS NULL OR of_deceased IN (0, 1));
ALTER TABLE merit_records ADD COLUMN remarried INTEGER NOT NULL DEFAULT 0 CHECK (remarried IN (0, 1));
ALTER TABLE merit_records ADD COLUMN ao_child INTEGER NOT NULL DEFAULT 0 CHECK (ao_child IN (0, 1));
ALTER TABLE merit_records ADD COLUMN caregiver INTEGER NOT NULL DEFAULT 0 CHECK (caregiver IN (0, 1));
ALTER TABLE merit_records ADD COLUMN studying INTEGER NOT NULL DEFAULT 0 CHECK (studying IN (0, 1));
ALTER TABLE merit_records ADD COLUMN seniority_months INTEGER CHECK (seniority_months IS NULL OR seniority_months BETWEEN 0 AND 1200);
