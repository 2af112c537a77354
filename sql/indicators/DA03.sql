-- DA03 Incidents with a child present: of incidents in the period with children_present known,
-- those with children_present true.
SELECT COALESCE(SUM(CASE WHEN children_present THEN 1 ELSE 0 END), 0) AS numerator,
       COUNT(children_present) AS denominator
FROM stg_police_domestic_incidents
WHERE reported_at >= :period_start AND reported_at < :period_end
