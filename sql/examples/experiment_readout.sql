-- The read-out of the checkout redesign test: conversion (z-test), revenue per session
-- (Welch, and CUPED with the pre-period revenue), the sample-ratio check, and how many
-- sessions per arm the next test needs to detect a 10% relative conversion lift
-- (alpha 0.05, power 0.8).
SELECT
    metric,
    test,
    units_control,
    units_treatment,
    control::numeric(12, 4) AS control,
    treatment::numeric(12, 4) AS treatment,
    rel_lift::numeric(12, 3) AS rel_lift,
    p_value::numeric(12, 6) AS p_value,
    ci_low::numeric(12, 4) AS ci_low,
    ci_high::numeric(12, 4) AS ci_high,
    variance_reduction::numeric(12, 3) AS variance_reduction,
    srm_p_value::numeric(12, 3) AS srm_p_value,
    CASE WHEN metric = 'conversion'
         THEN ab_sample_size(control, control * 1.1) END AS next_test_units_per_arm
FROM warehouse.experiment_results
WHERE experiment = 'checkout_redesign'
ORDER BY metric, test;
