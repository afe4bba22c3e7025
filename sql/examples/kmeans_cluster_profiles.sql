-- k-means cluster profiles: size, typical recency, orders and revenue of the four
-- clusters in warehouse.customer_segments, and the RFM segment most of them are in.
WITH segment_counts AS (
    SELECT cluster, rfm_segment, count(*) AS customers,
           row_number() OVER (PARTITION BY cluster ORDER BY count(*) DESC, rfm_segment) AS rank
    FROM warehouse.customer_segments
    GROUP BY cluster, rfm_segment
)
SELECT
    s.cluster,
    count(*) AS customers,
    round(avg(s.recency_days), 0) AS avg_recency_days,
    round(avg(s.frequency), 1) AS avg_orders,
    round(avg(s.monetary), 2) AS avg_revenue,
    max(c.rfm_segment) AS main_rfm_segment
FROM warehouse.customer_segments AS s
JOIN segment_counts AS c ON c.cluster = s.cluster AND c.rank = 1
GROUP BY s.cluster
ORDER BY s.cluster;
