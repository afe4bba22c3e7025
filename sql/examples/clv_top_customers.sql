-- The customers worth most over the next 12 months (BG/NBD + Gamma-Gamma, discounted
-- 1% a month), with how likely they still buy and what they are expected to buy.
SELECT
    customer_id,
    name,
    frequency AS repeat_purchase_days,
    p_alive::numeric(4, 3) AS p_alive,
    expected_purchases::numeric(12, 2) AS expected_purchases,
    expected_spend::numeric(12, 2) AS expected_spend,
    clv::numeric(12, 2) AS clv_12_months
FROM warehouse.customer_clv
ORDER BY clv DESC, customer_id
LIMIT 10;
