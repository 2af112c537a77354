-- MI01 Missing episodes: episodes with missing_from in the period.
SELECT COUNT(*) AS numerator, CAST(NULL AS INTEGER) AS denominator
FROM stg_missing_episodes
WHERE missing_from >= :period_start AND missing_from < :period_end
