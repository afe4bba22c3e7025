-- warehouse.experiment_results: one row per experiment, metric and test, read the way
-- an analyst reports an A/B test (treatment - control, two-sided, 95% intervals):
-- conversion by the two-proportion z-test; revenue per unit by Welch's t-test and by
-- CUPED (the same test on revenue adjusted by the pre-period revenue, with the share
-- of variance it removed); every row carries the sample-ratio-mismatch check of its
-- experiment (a small srm_p_value means the split itself went wrong: do not trust it).
-- Inputs: lake.experiment_assignments.  Grain: (experiment, metric, test).
CREATE TABLE warehouse.experiment_results AS
WITH arms AS (
    SELECT
        experiment,
        count(*) FILTER (WHERE variant = 'control') AS units_control,
        count(*) FILTER (WHERE variant = 'treatment') AS units_treatment,
        count(*) FILTER (WHERE variant = 'control' AND converted) AS conversions_control,
        count(*) FILTER (WHERE variant = 'treatment' AND converted) AS conversions_treatment,
        welch_ttest(revenue::double precision, variant = 'treatment') AS welch,
        cuped_ttest(revenue::double precision, pre_period_revenue::double precision,
                    variant = 'treatment') AS cuped
    FROM lake.experiment_assignments
    GROUP BY experiment
), tests AS (
    SELECT
        *,
        ab_proportions_ztest(conversions_control, units_control,
                             conversions_treatment, units_treatment) AS z,
        srm_test(units_control, units_treatment) AS srm
    FROM arms
)
SELECT experiment, 'conversion' AS metric, 'two-proportion z-test' AS test,
       units_control, units_treatment,
       (z).p_a AS control, (z).p_b AS treatment, (z).diff AS diff, (z).rel_lift AS rel_lift,
       (z).p_value AS p_value, (z).ci_low AS ci_low, (z).ci_high AS ci_high,
       CAST(NULL AS double precision) AS variance_reduction,
       (srm).p_value AS srm_p_value
FROM tests
UNION ALL
SELECT experiment, 'revenue per unit', 'Welch t-test',
       units_control, units_treatment,
       (welch).mean_a, (welch).mean_b, (welch).diff, (welch).diff / (welch).mean_a,
       (welch).p_value, (welch).ci_low, (welch).ci_high,
       NULL, (srm).p_value
FROM tests
UNION ALL
SELECT experiment, 'revenue per unit', 'CUPED t-test',
       units_control, units_treatment,
       (cuped).mean_a, (cuped).mean_b, (cuped).diff, (cuped).diff / (cuped).mean_a,
       (cuped).p_value, (cuped).ci_low, (cuped).ci_high,
       (cuped).variance_reduction, (srm).p_value
FROM tests
