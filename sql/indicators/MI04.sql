-- MI04 Children missing 3 or more times: children with at least 3 episodes with missing_from in
-- the period.
SELECT COUNT(*) AS numerator, CAST(NULL AS INTEGER) AS denominator
FROM (
  SELECT child_pseudonym
  FROM stg_missing_episodes
  WHERE missing_from >= :period_start AND missing_from < :period_end
  GROUP BY child_pseudonym
  HAVING COUNT(*) >= 3
) t
