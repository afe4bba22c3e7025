-- Win-back campaign list: customers who used to buy often and well but have not
-- bought for a while (At Risk, Can't Lose Them), who accept marketing email, most
-- valuable first.
SELECT
    customer_id,
    name,
    email,
    segment,
    recency_days,
    frequency AS orders,
    monetary AS revenue
FROM warehouse.customer_rfm
WHERE segment IN ('At Risk', 'Can''t Lose Them')
  AND marketing_opt_in
ORDER BY monetary DESC, customer_id
LIMIT 50;
