-- DA06 High-risk incidents: incidents in the period with risk_level high.
SELECT COUNT(*) AS numerator, CAST(NULL AS INTEGER) AS denominator
FROM stg_police_domestic_incidents
WHERE reported_at >= :period_start AND reported_at < :period_end
  AND risk_level = 'high'
