-- warehouse.customer_segments: k-means segments (k = 4, seeded k-means++) of the
-- customers in warehouse.customer_rfm on log RFM features, z-scored: cluster 1..4
-- (numbered by centroid) and the distance to the cluster's centre, with the RFM figures
-- to profile each cluster. Inputs: warehouse.customer_rfm.  Grain: customer_id.
CREATE TABLE warehouse.customer_segments AS
WITH features AS (
    SELECT
        customer_id,
        recency_days,
        frequency,
        monetary,
        segment,
        [ln(1 + recency_days), ln(1 + frequency), ln(1 + greatest(CAST(monetary AS DOUBLE), 0))] AS x
    FROM warehouse.customer_rfm
),
model AS (
    SELECT kmeans_fit(x, 4, seed => 42) AS model FROM features
)
SELECT
    f.customer_id,
    kmeans_assign(f.x, m.model) AS cluster,
    kmeans_distance(f.x, m.model) AS distance,
    f.recency_days,
    f.frequency,
    f.monetary,
    f.segment AS rfm_segment
FROM features AS f
CROSS JOIN model AS m
