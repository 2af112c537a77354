-- CS01 Referrals accepted by children's social work: referrals with referral_date in the period.
SELECT COUNT(*) AS numerator, CAST(NULL AS INTEGER) AS denominator
FROM stg_csws_referrals
WHERE referral_date >= :period_start AND referral_date < :period_end
