-- AT05 Severe absence, secondary: severe absentees over enrolments, secondary rows with
-- period_end in the period and severe_absentees known (rows without it are left out of both).
SELECT COALESCE(SUM(severe_absentees), 0) AS numerator,
       COALESCE(SUM(enrolments), 0) AS denominator
FROM stg_school_attendance
WHERE period_end >= :period_start AND period_end < :period_end
  AND phase = 'secondary'
  AND severe_absentees IS NOT NULL
