-- MI05 Return interviews within 72 hours: of episodes with returned_at in the period, those with
-- return_interview_completed_at present and at most 72 hours after returned_at.
SELECT COALESCE(SUM(CASE WHEN return_interview_completed_at IS NOT NULL
                          AND hours_between(returned_at, return_interview_completed_at) <= 72
                         THEN 1 ELSE 0 END), 0) AS numerator,
       COUNT(*) AS denominator
FROM stg_missing_episodes
WHERE returned_at >= :period_start AND returned_at < :period_end
