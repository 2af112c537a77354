-- CS02 Referral rate per 10,000 children (rolling 12 months): referrals in the 12 months ending
-- with the period, over the 0-17 population of the year in which the period's financial year
-- starts, or else the latest earlier year. No population at all gives a NULL denominator.
SELECT
  (SELECT COUNT(*)
     FROM stg_csws_referrals
    WHERE referral_date >= :rolling_start AND referral_date < :period_end) AS numerator,
  (SELECT p.population_0_17
     FROM ref_population p
    WHERE p.year <= :population_year
    ORDER BY p.year DESC
    LIMIT 1) AS denominator
