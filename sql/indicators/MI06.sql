-- MI06 Episodes where the child is at risk of CSE: of MI01's episodes with cse_risk known, those
-- with cse_risk true.
SELECT COALESCE(SUM(CASE WHEN cse_risk THEN 1 ELSE 0 END), 0) AS numerator,
       COUNT(cse_risk) AS denominator
FROM stg_missing_episodes
WHERE missing_from >= :period_start AND missing_from < :period_end
