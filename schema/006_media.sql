-- 006_media.sql: placeholder, filled in by the handler work (issue 3).
SELECT 1;
