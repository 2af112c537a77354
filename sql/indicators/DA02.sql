-- DA02 Domestic incidents per day: DA01 divided by the days in the period.
SELECT COUNT(*) AS numerator, CAST(:period_days AS INTEGER) AS denominator
FROM stg_police_domestic_incidents
WHERE reported_at >= :period_start AND reported_at < :period_end
