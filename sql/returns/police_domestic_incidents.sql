-- Rows of police_domestic_incidents in the period (by reported_at): zero means the partner's return is missing.
SELECT COUNT(*) AS n_rows
FROM stg_police_domestic_incidents
WHERE reported_at >= :period_start AND reported_at < :period_end
