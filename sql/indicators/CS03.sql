-- CS03 Re-referrals within 12 months: of referrals in the period, those for a child with an
-- earlier referral (any file, any quarter) dated d0 with d - 365 days <= d0 < d. A referral on
-- the same day does not count; one exactly 365 days earlier does, 366 days earlier does not.
SELECT COALESCE(SUM(CASE WHEN EXISTS (
         SELECT 1
         FROM stg_csws_referrals e
         WHERE e.child_pseudonym = r.child_pseudonym
           AND e.referral_date < r.referral_date
           AND days_between(e.referral_date, r.referral_date) <= 365
       ) THEN 1 ELSE 0 END), 0) AS numerator,
       COUNT(*) AS denominator
FROM stg_csws_referrals r
WHERE r.referral_date >= :period_start AND r.referral_date < :period_end
