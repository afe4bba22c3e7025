//! Identity stitching over the wire: the demo's `warehouse.identity_graph` against the
//! generator's ground truth (`_identity_truth.csv`), the guards' refusals, person ids
//! that do not depend on the edges' order and stay with the larger person as the graph
//! grows, and bad arguments refused with 22023.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::harness::{rows, TestServer};

type Id = (String, String);

/// The edges the demo's identity graph is built from (as `100_identity_graph.sql`).
const DEMO_EDGES: &str = "$e$
    SELECT DISTINCT 'anonymous_id', anonymous_id, 'customer_id', CAST(customer_id AS TEXT)
    FROM lake.web_events
    UNION ALL SELECT 'customer_id', CAST(customer_id AS TEXT), 'email', email FROM lake.customers
    UNION ALL SELECT 'anonymous_id', anonymous_id, 'email', email FROM lake.guest_orders $e$";

/// Groups identifiers by their person.
fn partition<P: Ord + Clone>(ids: impl Iterator<Item = (Id, P)>) -> BTreeSet<BTreeSet<Id>> {
    let mut by_person: BTreeMap<P, BTreeSet<Id>> = BTreeMap::new();
    for (id, p) in ids {
        by_person.entry(p).or_default().insert(id);
    }
    by_person.into_values().filter(|g| !g.is_empty()).collect()
}

#[tokio::test]
async fn the_demo_identity_graph_is_the_ground_truth_but_for_the_refused_merges() {
    let server = TestServer::start(|c, dir| {
        // The demo lake, as `datapunk serve` generates it without a configured lake.
        c.lake.root = String::new();
        c.lake.demo_dir = dir.join("demo").display().to_string();
        c.warehouse.scripts_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/sql/warehouse").into();
    })
    .await;
    let truth_file = server
        .lake
        .parent()
        .unwrap()
        .join("demo/_identity_truth.csv");
    let truth: HashMap<Id, String> = std::fs::read_to_string(&truth_file)
        .expect("the generator's ground truth")
        .lines()
        .skip(1)
        .map(|line| {
            let mut f = line.splitn(3, ',');
            let (t, id, person) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap());
            ((t.to_owned(), id.to_owned()), person.to_owned())
        })
        .collect();
    let c = server.client().await;
    let stitched: HashMap<Id, String> = rows(
        &c,
        "SELECT id_type, id, person_id FROM warehouse.identity_graph",
    )
    .await
    .into_iter()
    .map(|r| ((r[0].clone(), r[1].clone()), r[2].clone()))
    .collect();
    let events = rows(
        &c,
        &format!(
            "SELECT event, id_type_a, id_a, id_type_b, id_b FROM identity_stitch({DEMO_EDGES}, \
             max_ids_per_type => 'customer_id=1', priority => 'customer_id, email, anonymous_id', \
             output => 'refusals') ORDER BY 1, 2, 3, 4, 5"
        ),
    )
    .await;
    let refused: Vec<&Vec<String>> = events.iter().filter(|e| e[0] == "refused").collect();
    let blocked: Vec<&Vec<String>> = events.iter().filter(|e| e[0] == "blocked").collect();
    println!(
        "{} refused merges: {refused:?}\n{} blocked identifiers: {blocked:?}",
        refused.len(),
        blocked.len()
    );
    // The demo has shared household devices and junk guest e-mails: both guards act.
    assert!(!refused.is_empty() && !blocked.is_empty(), "{events:?}");
    for b in &blocked {
        assert!(
            !truth.contains_key(&(b[1].clone(), b[2].clone())),
            "junk in the truth: {b:?}"
        );
    }
    // Every identifier of the data is stitched, and nothing else.
    let truth_ids: BTreeSet<&Id> = truth.keys().collect();
    let stitched_ids: BTreeSet<&Id> = stitched.keys().collect();
    assert_eq!(stitched_ids, truth_ids);
    // The persons are the true ones once the identifiers of refused edges are set aside
    // (which side of a refused edge a shared device joins is the guard's choice).
    let excused: BTreeSet<Id> = refused
        .iter()
        .flat_map(|e| [(e[1].clone(), e[2].clone()), (e[3].clone(), e[4].clone())])
        .collect();
    let kept = |m: &HashMap<Id, String>| {
        partition(
            m.iter()
                .filter(|(id, _)| !excused.contains(*id))
                .map(|(id, p)| (id.clone(), p.clone())),
        )
    };
    let (expected, actual) = (kept(&truth), kept(&stitched));
    let missing: Vec<_> = expected.difference(&actual).take(5).collect();
    let extra: Vec<_> = actual.difference(&expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "true persons not found: {missing:?}\nstitched persons not true: {extra:?}"
    );
    let persons = stitched.values().collect::<BTreeSet<_>>().len();
    let true_persons = truth.values().collect::<BTreeSet<_>>().len();
    println!(
        "{} identifiers, {persons} persons stitched, {true_persons} true persons",
        stitched.len()
    );
    // Each refused merge keeps two persons apart that a plain union would have joined.
    assert_eq!(persons, true_persons, "one person per true person");
    server.stop().await;
}

/// `SELECT` of the given edges as the edges argument.
fn values(edges: &[(&str, &str, &str, &str)]) -> String {
    let rows: Vec<String> = edges
        .iter()
        .map(|(a, b, c, d)| format!("(''{a}'', ''{b}'', ''{c}'', ''{d}'')"))
        .collect();
    format!(
        "'SELECT * FROM (VALUES {}) AS e(ta, a, tb, b)'",
        rows.join(", ")
    )
}

#[tokio::test]
async fn person_ids_do_not_depend_on_order_and_stay_as_the_graph_grows() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let edges = [
        ("cookie", "k1", "customer", "7"),
        ("cookie", "k2", "customer", "7"),
        ("cookie", "k3", "email", "x@y.com"),
        ("email", "x@y.com", "cookie", "k4"),
        ("cookie", "k5", "cookie", "k6"),
    ];
    let ids = |sql: String| {
        let c = &c;
        async move {
            rows(c, &sql)
                .await
                .into_iter()
                .map(|r| ((r[0].clone(), r[1].clone()), r[2].clone()))
                .collect::<BTreeMap<Id, String>>()
        }
    };
    let forward = ids(format!("SELECT * FROM identity_stitch({})", values(&edges))).await;
    let mut reversed = edges.to_vec();
    reversed.reverse();
    let backward = ids(format!(
        "SELECT * FROM identity_stitch({})",
        values(&reversed)
    ))
    .await;
    assert_eq!(forward, backward);
    assert_eq!(partition(forward.clone().into_iter()).len(), 3);
    // Only the columns read are built: any subset, in any order, or none.
    let subsets = rows(
        &c,
        &format!(
            "SELECT (SELECT count(*) FROM identity_stitch({e}))::text, \
                    (SELECT count(DISTINCT person_id) FROM identity_stitch({e}))::text, \
                    (SELECT string_agg(id || '/' || id_type, ',' ORDER BY id || '/' || id_type) \
                       FROM identity_stitch({e}))",
            e = values(&edges)
        ),
    )
    .await;
    let mut names: Vec<String> = forward.keys().map(|(t, v)| format!("{v}/{t}")).collect();
    names.sort();
    assert_eq!(
        subsets,
        vec![vec![
            forward.len().to_string(),
            "3".to_owned(),
            names.join(",")
        ]]
    );

    // A new identifier that sorts first, and a merge of two persons: with the previous
    // run, the merged person keeps the id of the larger one.
    // The previous run, as a query (a warehouse script would name its table).
    let previous = format!("$p$SELECT * FROM identity_stitch({})$p$", values(&edges));
    let mut grown = edges.to_vec();
    grown.push(("cookie", "a0", "cookie", "k6"));
    grown.push(("cookie", "k6", "customer", "7"));
    let again = ids(format!(
        "SELECT * FROM identity_stitch({}, previous => {previous})",
        values(&grown)
    ))
    .await;
    let person_of =
        |m: &BTreeMap<Id, String>, t: &str, v: &str| m[&(t.to_owned(), v.to_owned())].clone();
    let customer_person = person_of(&forward, "customer", "7");
    for id in ["k1", "k2", "k5", "k6", "a0"] {
        assert_eq!(person_of(&again, "cookie", id), customer_person, "{id}");
    }
    let merged = rows(
        &c,
        &format!(
            "SELECT id_a, id_b FROM identity_stitch({}, previous => {previous}, \
             output => 'refusals') WHERE event = 'merged'",
            values(&grown)
        ),
    )
    .await;
    assert_eq!(
        merged,
        vec![vec![person_of(&forward, "cookie", "k5"), customer_person]]
    );
    server.stop().await;
}

#[tokio::test]
async fn bad_identity_stitch_arguments_are_refused() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    for (sql, code) in [
        ("SELECT * FROM identity_stitch('SELECT 1, 2, 3')", "22023"),
        (
            "SELECT * FROM identity_stitch('SELECT ''a'', ''1'', ''b'', ''2''', max_ids_per_type => 'email')",
            "22023",
        ),
        (
            "SELECT * FROM identity_stitch('SELECT ''a'', ''1'', ''b'', ''2''', max_ids_per_type => 'email=0')",
            "22023",
        ),
        (
            "SELECT * FROM identity_stitch('SELECT ''a'', ''1'', ''b'', ''2''', output => 'merges')",
            "22023",
        ),
        ("SELECT * FROM identity_stitch('lake.no_such_table')", "42P01"),
    ] {
        let err = c.simple_query(sql).await.expect_err(sql);
        assert_eq!(err.code().map(|c| c.code()), Some(code), "{sql}: {err:?}");
    }
    // The server is still serving.
    assert_eq!(rows(&c, "SELECT 1").await, vec![vec!["1".to_owned()]]);
    server.stop().await;
}
