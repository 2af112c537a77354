-- AT06 Suspensions per 100 pupils: suspensions over enrolments, rows of every phase with
-- period_end in the period and suspensions known (rows without it are left out of both).
SELECT COALESCE(SUM(suspensions), 0) AS numerator,
       COALESCE(SUM(enrolments), 0) AS denominator
FROM stg_school_attendance
WHERE period_end >= :period_start AND period_end < :period_end
  AND suspensions IS NOT NULL
