-- Rows of missing_episodes in the period (by missing_from): zero means the partner's return is missing.
SELECT COUNT(*) AS n_rows
FROM stg_missing_episodes
WHERE missing_from >= :period_start AND missing_from < :period_end
