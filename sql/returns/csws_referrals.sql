-- Rows of csws_referrals in the period (by referral_date): zero means the partner's return is missing.
SELECT COUNT(*) AS n_rows
FROM stg_csws_referrals
WHERE referral_date >= :period_start AND referral_date < :period_end
