-- MI02 Children who went missing: distinct children among MI01's episodes.
SELECT COUNT(DISTINCT child_pseudonym) AS numerator, CAST(NULL AS INTEGER) AS denominator
FROM stg_missing_episodes
WHERE missing_from >= :period_start AND missing_from < :period_end
