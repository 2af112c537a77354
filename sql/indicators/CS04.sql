-- CS04 Referrals with domestic abuse identified: of referrals in the period with domestic_abuse
-- known, those with domestic_abuse true.
SELECT COALESCE(SUM(CASE WHEN domestic_abuse THEN 1 ELSE 0 END), 0) AS numerator,
       COUNT(domestic_abuse) AS denominator
FROM stg_csws_referrals
WHERE referral_date >= :period_start AND referral_date < :period_end
