-- CS05 Referrals ending in no further action: of referrals in the period with an outcome, those
-- with outcome nfa.
SELECT COALESCE(SUM(CASE WHEN outcome = 'nfa' THEN 1 ELSE 0 END), 0) AS numerator,
       COUNT(outcome) AS denominator
FROM stg_csws_referrals
WHERE referral_date >= :period_start AND referral_date < :period_end
