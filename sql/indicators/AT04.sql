-- AT04 Persistent absence, secondary: persistent absentees over enrolments, secondary rows with
-- period_end in the period.
SELECT COALESCE(SUM(persistent_absentees), 0) AS numerator,
       COALESCE(SUM(enrolments), 0) AS denominator
FROM stg_school_attendance
WHERE period_end >= :period_start AND period_end < :period_end
  AND phase = 'secondary'
