-- A first-instance complaint goes to the second instance at most once, even when two requests
-- race (the service checks first; this makes it a guarantee).
CREATE UNIQUE INDEX complaints_one_escalation ON complaints (parent_id) WHERE parent_id IS NOT NULL;
