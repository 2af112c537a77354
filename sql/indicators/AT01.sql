-- AT01 Overall absence, primary: sessions absent over sessions possible, primary rows with
-- period_end in the period.
SELECT COALESCE(SUM(sessions_absent), 0) AS numerator,
       COALESCE(SUM(sessions_possible), 0) AS denominator
FROM stg_school_attendance
WHERE period_end >= :period_start AND period_end < :period_end
  AND phase = 'primary'
