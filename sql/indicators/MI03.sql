-- MI03 Episodes involving looked-after children: of MI01's episodes with looked_after known,
-- those with looked_after true.
SELECT COALESCE(SUM(CASE WHEN looked_after THEN 1 ELSE 0 END), 0) AS numerator,
       COUNT(looked_after) AS denominator
FROM stg_missing_episodes
WHERE missing_from >= :period_start AND missing_from < :period_end
