-- audience.win_back: customers whose RFM segment says they are slipping away ("At Risk":
-- used to buy often and spend, not lately; "Can't Lose Them": the best customers, gone
-- quiet), with what a win-back e-mail needs. One row per customer (key: customer_id).
-- Each refresh records who entered and who left in datapunk.audience_changes.
SELECT customer_id, name, email, country, marketing_opt_in, segment, recency_days, monetary
FROM warehouse.customer_rfm
WHERE segment IN ('At Risk', 'Can''t Lose Them')
