-- Facts the entitlement rules read that the first registry schema did not hold
-- (docs/entitlements.md): category a's diện thoát ly, category m's award, and for relatives
-- the category and rate of the person with merit and the extra nurture allowance.
ALTER TABLE merit_records ADD COLUMN thoat_ly INTEGER CHECK (thoat_ly IS NULL OR thoat_ly IN (0, 1));
ALTER TABLE merit_records ADD COLUMN award TEXT CHECK (award IS NULL OR award IN ('to_quoc_ghi_cong', 'huan_chuong_khang_chien'));
ALTER TABLE merit_records ADD COLUMN of_category TEXT CHECK (of_category IS NULL OR of_category IN ('a', 'b', 'c', 'g', 'h', 'i'));
ALTER TABLE merit_records ADD COLUMN of_injury_rate INTEGER CHECK (of_injury_rate IS NULL OR (of_injury_rate BETWEEN 1 AND 100));
ALTER TABLE merit_records ADD COLUMN nurture INTEGER NOT NULL DEFAULT 0 CHECK (nurture IN (0, 1));
