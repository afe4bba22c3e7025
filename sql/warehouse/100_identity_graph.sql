-- warehouse.identity_graph: one row per identifier (customer id, e-mail, device cookie)
-- with the person it belongs to; identifiers seen together are one person. Evidence: a
-- login on a device (web_events), a customer's e-mail (customers), the device and the
-- e-mail of a guest checkout (guest_orders). Guards: at most one customer id per person
-- (a shared household computer does not merge two customers), customer ids trusted
-- first, junk e-mails (test@test.com, '') never identifiers.
-- Inputs: lake.web_events, lake.customers, lake.guest_orders.  Grain: (id_type, id).
CREATE TABLE warehouse.identity_graph AS
SELECT id_type, id, person_id
FROM identity_stitch($edges$
    SELECT DISTINCT 'anonymous_id', anonymous_id, 'customer_id', CAST(customer_id AS TEXT)
    FROM lake.web_events
    UNION ALL
    SELECT 'customer_id', CAST(customer_id AS TEXT), 'email', email FROM lake.customers
    UNION ALL
    SELECT 'anonymous_id', anonymous_id, 'email', email FROM lake.guest_orders
$edges$,
    max_ids_per_type => 'customer_id=1',
    priority => 'customer_id, email, anonymous_id')
