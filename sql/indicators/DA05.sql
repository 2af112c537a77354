-- DA05 Repeat incidents: of incidents in the period with repeat_victim known, those with
-- repeat_victim true.
SELECT COALESCE(SUM(CASE WHEN repeat_victim THEN 1 ELSE 0 END), 0) AS numerator,
       COUNT(repeat_victim) AS denominator
FROM stg_police_domestic_incidents
WHERE reported_at >= :period_start AND reported_at < :period_end
