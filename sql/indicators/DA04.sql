-- DA04 Schools notified within 24 hours (Operation Encompass): of incidents in the period with
-- children_present true, those with school_notified_at present and at most 24 hours after
-- reported_at.
SELECT COALESCE(SUM(CASE WHEN school_notified_at IS NOT NULL
                          AND hours_between(reported_at, school_notified_at) <= 24
                         THEN 1 ELSE 0 END), 0) AS numerator,
       COUNT(*) AS denominator
FROM stg_police_domestic_incidents
WHERE reported_at >= :period_start AND reported_at < :period_end
  AND children_present
