-- The read-out of the checkout redesign test: conversion (z-test), revenue per session
-- (Welch, and CUPED with the pre-period revenue), the sample-ratio check, and how many
-- sessions per arm the next test needs to detect a 10% relative conversion lift
-- (alpha 0.05, power 0.8).
SELECT
    metric,
    test,
    units_control,
    units_treatment,
    round(control::numeric, 4) AS control,
    round(treatment::numeric, 4) AS treatment,
    round(rel_lift::numeric, 3) AS rel_lift,
    round(p_value::numeric, 6) AS p_value,
    round(ci_low::numeric, 4) AS ci_low,
    round(ci_high::numeric, 4) AS ci_high,
    round(variance_reduction::numeric, 3) AS variance_reduction,
    round(srm_p_value::numeric, 3) AS srm_p_value,
    CASE WHEN metric = 'conversion'
         THEN ab_sample_size(control, control * 1.1) END AS next_test_units_per_arm
FROM warehouse.experiment_results
WHERE experiment = 'checkout_redesign'
ORDER BY metric, test;
