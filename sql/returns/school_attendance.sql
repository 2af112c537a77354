-- Rows of school_attendance in the period (by period_end): zero means the partner's return is missing.
SELECT COUNT(*) AS n_rows
FROM stg_school_attendance
WHERE period_end >= :period_start AND period_end < :period_end
