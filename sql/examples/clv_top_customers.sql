-- The customers worth most over the next 12 months (BG/NBD + Gamma-Gamma, discounted
-- 1% a month), with how likely they still buy and what they are expected to buy.
SELECT
    customer_id,
    name,
    frequency AS repeat_purchase_days,
    round(p_alive::numeric, 3) AS p_alive,
    round(expected_purchases::numeric, 2) AS expected_purchases,
    round(expected_spend::numeric, 2) AS expected_spend,
    round(clv::numeric, 2) AS clv_12_months
FROM warehouse.customer_clv
ORDER BY clv DESC, customer_id
LIMIT 10;
