-- 005_dtmf.sql: placeholder, filled in by the handler work (issue 3).
SELECT 1;
