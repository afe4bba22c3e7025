-- Segment sizes and revenue: how many customers each RFM segment holds, what they
-- spent, and each segment's share of revenue.
SELECT
    segment,
    count(*) AS customers,
    sum(monetary) AS revenue,
    round(100.0 * sum(monetary) / sum(sum(monetary)) OVER (), 1) AS revenue_pct,
    round(avg(recency_days), 0) AS avg_recency_days,
    round(avg(frequency), 1) AS avg_orders
FROM warehouse.customer_rfm
GROUP BY segment
ORDER BY revenue DESC;
