-- Former high spenders who have probably stopped buying: the top fifth by revenue
-- (RFM m = 5) whose probability of still being a customer is below 30%, who accept
-- marketing email; a win-back list ranked by what they used to spend.
SELECT
    v.customer_id,
    v.name,
    v.email,
    r.monetary AS revenue_so_far,
    r.recency_days,
    v.p_alive::numeric(4, 3) AS p_alive,
    v.clv::numeric(12, 2) AS clv_12_months
FROM warehouse.customer_clv AS v
JOIN warehouse.customer_rfm AS r ON r.customer_id = v.customer_id
WHERE r.m = 5
  AND v.p_alive < 0.3
  AND v.marketing_opt_in
ORDER BY r.monetary DESC, v.customer_id
LIMIT 20;
