-- DA01 Domestic incidents reported to police: incidents with reported_at in the period.
SELECT COUNT(*) AS numerator, CAST(NULL AS INTEGER) AS denominator
FROM stg_police_domestic_incidents
WHERE reported_at >= :period_start AND reported_at < :period_end
