//! Recommendation functions over the wire: exact on the spec's fixtures (the mlxtend
//! itemsets, rules and item-item cosines, the worked evaluation example), equal to plain
//! SQL on the tiny lake, deterministic ALS, clear errors, and on the demo data at least
//! one recommender beats the popularity baseline.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::harness::{scalar, sqlstate, TestServer};
use crate::marketing::{reference_numbers, rows};

const CLOSE: f64 = 1e-9;

/// `SELECT * FROM (VALUES ...) AS t(basket, item)` of the mlxtend baskets, quoted for use
/// as a text argument.
fn mlxtend_baskets() -> String {
    let reference = reference_numbers();
    let baskets = reference["association_rules_mlxtend_example"]["baskets"]
        .as_array()
        .expect("baskets")
        .clone();
    let values: Vec<String> = baskets
        .iter()
        .enumerate()
        .flat_map(|(i, basket)| {
            basket
                .as_array()
                .expect("basket")
                .iter()
                .map(move |item| format!("({}, ''{}'')", i + 1, item.as_str().expect("item")))
        })
        .collect();
    format!(
        "'SELECT * FROM (VALUES {}) AS t(basket, item)'",
        values.join(", ")
    )
}

fn number(cell: &Option<String>) -> f64 {
    match cell.as_deref() {
        Some("Infinity") => f64::INFINITY,
        Some(v) => v.parse().unwrap_or_else(|_| panic!("not a number: {v}")),
        None => panic!("NULL"),
    }
}

fn names(value: &serde_json::Value) -> Vec<String> {
    value
        .as_array()
        .expect("list")
        .iter()
        .map(|v| v.as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn the_mlxtend_example_gives_its_itemsets_and_rules() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let reference = reference_numbers();
    let example = &reference["association_rules_mlxtend_example"];
    let baskets = mlxtend_baskets();

    // Itemsets: lists arrive as text[] in the binary protocol.
    let got: BTreeMap<Vec<String>, f64> = c
        .query(
            &format!("SELECT itemset, support FROM frequent_itemsets({baskets}, 'basket', 'item', 0.6, max_len => 3)"),
            &[],
        )
        .await
        .expect("frequent_itemsets")
        .iter()
        .map(|r| (r.get::<_, Vec<String>>(0), r.get::<_, f64>(1)))
        .collect();
    let expected: BTreeMap<Vec<String>, f64> = example["frequent_itemsets"]
        .as_array()
        .expect("itemsets")
        .iter()
        .map(|s| (names(&s[0]), s[1].as_f64().expect("support")))
        .collect();
    assert_eq!(got.len(), 11, "{got:?}");
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>()
    );
    for (set, support) in &expected {
        assert!((got[set] - support).abs() < CLOSE, "{set:?}");
    }

    // Rules, with every measure; conviction is infinite where confidence is 1.
    let rules = c
        .query(
            &format!(
                "SELECT antecedent, consequent, support, confidence, lift, leverage, conviction \
                 FROM association_rules({baskets}, 'basket', 'item', 0.6, 0.7, max_len => 3)"
            ),
            &[],
        )
        .await
        .expect("association_rules");
    assert_eq!(rules.len(), 12);
    let got: HashMap<(Vec<String>, Vec<String>), Vec<f64>> = rules
        .iter()
        .map(|r| {
            (
                (r.get::<_, Vec<String>>(0), r.get::<_, Vec<String>>(1)),
                (2..7).map(|i| r.get::<_, f64>(i)).collect(),
            )
        })
        .collect();
    for rule in example["rules"].as_array().expect("rules") {
        let key = (names(&rule["antecedent"]), names(&rule["consequent"]));
        let measures = got
            .get(&key)
            .unwrap_or_else(|| panic!("missing rule {key:?}"));
        for (i, name) in ["support", "confidence", "lift", "leverage"]
            .iter()
            .enumerate()
        {
            let want = rule[name].as_f64().expect("measure");
            assert!(
                (measures[i] - want).abs() < CLOSE,
                "{key:?} {name}: {}",
                measures[i]
            );
        }
        match rule["conviction"].as_f64() {
            Some(want) => assert!((measures[4] - want).abs() < CLOSE, "{key:?}"),
            None => assert!(measures[4].is_infinite() && measures[4] > 0.0, "{key:?}"),
        }
    }
    // The same in the simple protocol: text arrays and Infinity as PostgreSQL prints them.
    let text = rows(
        &c,
        &format!(
            "SELECT antecedent, consequent, conviction FROM association_rules({baskets}, 'basket', \
             'item', 0.6, 0.7) WHERE cardinality(consequent) = 2"
        ),
    )
    .await;
    assert!(
        text.contains(&vec![
            Some("{Onion}".into()),
            Some("{Eggs,\"Kidney Beans\"}".into()),
            Some("Infinity".into())
        ]),
        "{text:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn item_cooccurrence_gives_the_reference_cosines() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let reference = reference_numbers();
    let baskets = mlxtend_baskets();
    for metric in ["cosine", "jaccard"] {
        let got: HashMap<(String, String), (i64, f64)> = rows(
            &c,
            &format!(
                "SELECT item_a, item_b, co_count, score FROM item_cooccurrence({baskets}, 'basket', \
                 'item', min_support => 1, metric => '{metric}', top_k => 100)"
            ),
        )
        .await
        .into_iter()
        .map(|r| {
            let key = (r[0].clone().unwrap(), r[1].clone().unwrap());
            (key, (r[2].as_deref().unwrap().parse().unwrap(), number(&r[3])))
        })
        .collect();
        for pair in reference["item_item_similarity_mlxtend_example"]
            .as_array()
            .expect("pairs")
        {
            let a = pair["a"].as_str().unwrap().to_owned();
            let b = pair["b"].as_str().unwrap().to_owned();
            let want = pair[metric].as_f64().unwrap();
            for key in [(a.clone(), b.clone()), (b.clone(), a.clone())] {
                let (co, score) = got[&key];
                assert_eq!(co, pair["co_count"].as_i64().unwrap(), "{key:?}");
                assert!((score - want).abs() < CLOSE, "{metric} {key:?}: {score}");
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn rec_eval_gives_the_worked_example() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let reference = reference_numbers();
    let example = &reference["recommendation_metrics_worked_example"];
    let mut recs = Vec::new();
    for (user, items) in example["recs_top5"].as_object().expect("recs") {
        for (rank, item) in names(items).iter().enumerate() {
            recs.push(format!("(''{user}'', ''{item}'', {})", rank + 1));
        }
    }
    // A catalogue of 24 items, A to X: the 12 recommended ones cover half of it.
    let catalogue: Vec<String> = ('A'..='X').map(|c| format!("(''{c}'')")).collect();
    let mut holdout = Vec::new();
    for (user, items) in example["holdout_truth"].as_object().expect("holdout") {
        for item in names(items) {
            holdout.push(format!("(''{user}'', ''{item}'')"));
        }
    }
    let got = rows(
        &c,
        &format!(
            "SELECT users, k, precision, recall, hit_rate, map, ndcg, coverage FROM rec_eval(\
             'SELECT * FROM (VALUES {}) AS r(u, i, rank)', \
             'SELECT * FROM (VALUES {}) AS h(u, i)', 5, \
             catalogue => 'SELECT * FROM (VALUES {}) AS c(i)')",
            recs.join(", "),
            holdout.join(", "),
            catalogue.join(", ")
        ),
    )
    .await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0][0].as_deref(), Some("3"));
    assert_eq!(got[0][1].as_deref(), Some("5"));
    let want = [
        ("precision_at_5", 0.2667),
        ("recall_at_5", 0.5556),
        ("hit_rate_at_5", 0.6667),
        ("map_at_5", 0.4333),
        ("ndcg_at_5", 0.4925),
    ];
    for (i, (name, rounded)) in want.iter().enumerate() {
        let value = number(&got[0][i + 2]);
        assert!((value - rounded).abs() < 1e-4, "{name}: {value}");
        let exact = example[name].as_f64().unwrap();
        assert!((value - exact).abs() < 1e-12, "{name}: {value}");
    }
    assert!(
        (number(&got[0][7]) - 0.5).abs() < 1e-12,
        "coverage {:?}",
        got[0][7]
    );
    server.stop().await;
}

/// Co-occurrence counts of the tiny lake's orders, in plain SQL (a self-join).
const COOCCURRENCE_IN_SQL: &str = "
WITH b AS (SELECT DISTINCT order_id, product_id FROM lake.order_lines),
kept AS (SELECT order_id FROM b GROUP BY order_id HAVING count(*) <= 5),
kb AS (SELECT b.order_id, b.product_id FROM b JOIN kept ON kept.order_id = b.order_id),
n AS (SELECT product_id, count(*) AS n FROM kb GROUP BY product_id)
SELECT x.product_id, y.product_id, count(*) AS co, na.n, nb.n
FROM kb AS x JOIN kb AS y ON x.order_id = y.order_id AND x.product_id <> y.product_id
JOIN n AS na ON na.product_id = x.product_id
JOIN n AS nb ON nb.product_id = y.product_id
GROUP BY x.product_id, y.product_id, na.n, nb.n";

#[tokio::test]
async fn cooccurrence_counts_equal_a_plain_sql_self_join() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let key = |r: &Vec<Option<String>>| -> (i64, i64) {
        (
            r[0].as_deref().unwrap().parse().unwrap(),
            r[1].as_deref().unwrap().parse().unwrap(),
        )
    };
    let counts = |r: &Vec<Option<String>>| -> Vec<i64> {
        (2..5)
            .map(|i| r[i].as_deref().unwrap().parse().unwrap())
            .collect()
    };
    let expected: BTreeMap<(i64, i64), Vec<i64>> = rows(&c, COOCCURRENCE_IN_SQL)
        .await
        .iter()
        .map(|r| (key(r), counts(r)))
        .collect();
    assert!(
        expected.len() > 50,
        "too few pairs to compare: {}",
        expected.len()
    );
    let got_rows = rows(
        &c,
        "SELECT item_a, item_b, co_count, n_a, n_b, score FROM item_cooccurrence('lake.order_lines', \
         'order_id', 'product_id', min_support => 1, top_k => 1000000, max_basket_size => 5)",
    )
    .await;
    let got: BTreeMap<(i64, i64), Vec<i64>> =
        got_rows.iter().map(|r| (key(r), counts(r))).collect();
    assert_eq!(got, expected);
    for r in &got_rows {
        let v = counts(r);
        let cosine = v[0] as f64 / ((v[1] * v[2]) as f64).sqrt();
        assert!((number(&r[5]) - cosine).abs() < 1e-12, "{r:?}");
    }

    // lift = co * N / (n_a * n_b), N = baskets kept; count = co.
    let kept: f64 = scalar(
        &c,
        "SELECT count(*) FROM (SELECT order_id FROM (SELECT DISTINCT order_id, product_id FROM lake.order_lines) \
         GROUP BY order_id HAVING count(*) <= 5)",
    )
    .await
    .unwrap()
    .parse()
    .unwrap();
    for metric in ["lift", "count"] {
        let scored = rows(
            &c,
            &format!(
                "SELECT item_a, item_b, co_count, n_a, n_b, score FROM item_cooccurrence('lake.order_lines', \
                 'order_id', 'product_id', min_support => 1, metric => '{metric}', top_k => 1000000, max_basket_size => 5)"
            ),
        )
        .await;
        assert_eq!(scored.len(), got_rows.len());
        for r in &scored {
            let v = counts(r);
            let want = match metric {
                "lift" => v[0] as f64 * kept / (v[1] * v[2]) as f64,
                _ => v[0] as f64,
            };
            assert!((number(&r[5]) - want).abs() < 1e-9, "{metric} {r:?}");
        }
    }

    // top_k and min_support: each item keeps its best partners by score.
    let top = rows(
        &c,
        "SELECT item_a, count(*), min(co_count), max(rank) FROM item_cooccurrence('lake.order_lines', \
         'order_id', 'product_id', min_support => 2, top_k => 3) GROUP BY item_a",
    )
    .await;
    assert!(!top.is_empty());
    for r in &top {
        let n: i64 = r[1].as_deref().unwrap().parse().unwrap();
        assert!(n <= 3, "{r:?}");
        assert!(
            r[2].as_deref().unwrap().parse::<i64>().unwrap() >= 2,
            "{r:?}"
        );
        assert_eq!(r[3].as_deref().unwrap().parse::<i64>().unwrap(), n, "{r:?}");
    }
    server.stop().await;
}

/// Item-based recommendations agree with plain SQL: the scores of the items returned, and
/// nothing left out scores higher than the last one returned.
#[tokio::test]
async fn recommend_items_agrees_with_plain_sql() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let owned = "SELECT DISTINCT customer_id, product_id FROM lake.order_lines";
    let similar = "SELECT item_a, item_b, score FROM item_cooccurrence(''lake.order_lines'', \
                   ''customer_id'', ''product_id'', min_support => 1, top_k => 20)";
    let got = rows(
        &c,
        &format!(
            "SELECT customer, item, rank, score FROM recommend_items('{owned}', '{similar}', k => 5)"
        ),
    )
    .await;
    let all = rows(
        &c,
        &format!(
            "WITH o AS ({owned}), s AS (SELECT * FROM item_cooccurrence('lake.order_lines', \
             'customer_id', 'product_id', min_support => 1, top_k => 20)) \
             SELECT o.customer_id, s.item_b, sum(s.score) FROM o JOIN s ON s.item_a = o.product_id \
             WHERE NOT EXISTS (SELECT 1 FROM o AS b WHERE b.customer_id = o.customer_id AND b.product_id = s.item_b) \
             GROUP BY o.customer_id, s.item_b"
        ),
    )
    .await;
    let mut expected: HashMap<String, HashMap<String, f64>> = HashMap::new();
    for r in &all {
        expected
            .entry(r[0].clone().unwrap())
            .or_default()
            .insert(r[1].clone().unwrap(), number(&r[2]));
    }
    assert!(got.len() > 20, "{}", got.len());
    let mut by_customer: BTreeMap<String, Vec<(i64, String, f64)>> = BTreeMap::new();
    for r in &got {
        by_customer.entry(r[0].clone().unwrap()).or_default().push((
            r[2].as_deref().unwrap().parse().unwrap(),
            r[1].clone().unwrap(),
            number(&r[3]),
        ));
    }
    assert_eq!(by_customer.len(), expected.len());
    for (customer, mut recs) in by_customer {
        recs.sort_by_key(|r| r.0);
        let scores = &expected[&customer];
        assert_eq!(recs.len(), scores.len().min(5), "{customer}");
        let mut last = f64::INFINITY;
        for (i, (rank, item, score)) in recs.iter().enumerate() {
            assert_eq!(*rank, i as i64 + 1);
            assert!((scores[item] - score).abs() < CLOSE, "{customer} {item}");
            assert!(*score <= last + CLOSE, "{customer}: not best first");
            last = *score;
        }
        let returned: BTreeSet<&String> = recs.iter().map(|r| &r.1).collect();
        for (item, score) in scores {
            if !returned.contains(item) {
                assert!(
                    *score <= last + CLOSE,
                    "{customer}: {item} ({score}) left out"
                );
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn als_is_deterministic_and_leaves_out_what_was_bought() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    let query = "SELECT customer, item, rank, score FROM als_recommend(\
                 'SELECT customer_id, product_id, count(*) FROM lake.order_lines GROUP BY 1, 2', \
                 k => 5, rank => 8, iterations => 5, seed => 7) ORDER BY customer, rank";
    let first = rows(&c, query).await;
    let customers = scalar(
        &c,
        "SELECT count(DISTINCT customer_id) FROM lake.order_lines",
    )
    .await;
    assert_eq!(
        Some((first.len() / 5).to_string()),
        customers,
        "5 recommendations per buying customer"
    );
    c.simple_query("SET datafusion.execution.target_partitions = 1")
        .await
        .expect("set");
    assert_eq!(rows(&c, query).await, first, "same seed, same answer");
    let bought = rows(
        &c,
        &format!(
            "SELECT count(*) FROM ({query}) AS r JOIN lake.order_lines AS l \
             ON l.customer_id = r.customer AND l.product_id = r.item"
        ),
    )
    .await;
    assert_eq!(bought[0][0].as_deref(), Some("0"));
    let other_seed = rows(&c, &query.replace("seed => 7", "seed => 8")).await;
    assert_eq!(other_seed.len(), first.len());
    assert_ne!(other_seed, first, "the seed is used");
    server.stop().await;
}

#[tokio::test]
async fn bad_arguments_get_22023_and_the_connection_stays_usable() {
    let server = TestServer::start(|_, _| {}).await;
    let c = server.client().await;
    for (sql, words) in [
        (
            "SELECT * FROM item_cooccurrence('lake.order_lines', 'order_id', 'product_id', metric => 'pearson')",
            "metric must be",
        ),
        (
            "SELECT * FROM association_rules('lake.order_lines', 'order_id', 'product_id', 1.5)",
            "min_support must be a number from 0 to 1",
        ),
        (
            "SELECT * FROM frequent_itemsets('lake.order_lines', 'order_id', 'unit_price', 0.1)",
            "item_column must be an integer or text column",
        ),
        (
            "SELECT * FROM als_recommend('SELECT customer_id, product_id FROM lake.order_lines', rank => 0)",
            "rank must be an integer from 1 to 500",
        ),
        (
            "SELECT * FROM als_recommend('SELECT customer_id, product_id FROM lake.order_lines', k => 2.5)",
            "k must be an integer",
        ),
        (
            "SELECT * FROM als_recommend('lake.order_lines')",
            "interactions must have 2 or 3 columns: customer, item [, weight]; the input has 9 columns (order_id, line_no,",
        ),
        (
            "SELECT * FROM rec_eval('SELECT customer_id, product_id, line_no FROM lake.order_lines', 'SELECT customer_id, product_id FROM lake.order_lines', k => 0)",
            "k must be an integer",
        ),
        (
            "SELECT * FROM rec_eval('SELECT customer_id, product_id, country FROM lake.order_lines', 'SELECT customer_id, product_id FROM lake.order_lines')",
            "the rank column country must be numeric",
        ),
        ("SELECT * FROM recommend_items('lake.orders')", "expects 2 to 4 arguments"),
    ] {
        let e = c.simple_query(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&e), "22023", "{sql}: {e}");
        let message = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default();
        assert!(message.contains(words), "{sql}: {message}");
    }
    let e = c
        .simple_query("SELECT * FROM item_cooccurrence('lake.nope', 'a', 'b')")
        .await
        .expect_err("missing table");
    assert_eq!(sqlstate(&e), "42P01", "{e}");
    assert_eq!(scalar(&c, "SELECT 1").await.as_deref(), Some("1"));
    server.stop().await;
}

/// The bar for the demo data: at least one method beats the popularity baseline
/// on hit rate@10 in `sql/examples/recommendation_evaluation.sql`.
#[tokio::test]
async fn a_recommender_beats_popularity_on_the_demo_data() {
    // Generating and evaluating the demo data grows this process: keep it away from the
    // tests that measure the server's memory.
    let _exclusive = crate::harness::MEMORY_HEAVY.lock().await;
    let server = TestServer::start(|config, dir| {
        let demo = dir.join("demo");
        datapunk::generate::generate(&demo, datapunk::generate::Spec::demo(), false)
            .expect("demo lake");
        config.lake.root = demo.display().to_string();
    })
    .await;
    let c = server.client().await;
    let sql = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/sql/examples/recommendation_evaluation.sql"
    ))
    .expect("example");
    let table = rows(&c, &sql).await;
    assert_eq!(table.len(), 4, "{table:?}");
    let hit_rate = |method: &str| {
        let row = table
            .iter()
            .find(|r| r[0].as_deref() == Some(method))
            .unwrap_or_else(|| panic!("{method} missing: {table:?}"));
        number(&row[5])
    };
    let popularity = hit_rate("popularity baseline");
    let best = ["item-item cosine", "association rules", "ALS (implicit)"]
        .iter()
        .map(|m| hit_rate(m))
        .fold(0.0, f64::max);
    assert!(
        best > popularity,
        "best {best} vs popularity {popularity}: {table:?}"
    );
    // Customers with a history and new purchases after the cutoff: most buying ones.
    let users: u64 = table[0][1].as_deref().unwrap().parse().unwrap();
    assert!(users > 1000, "{table:?}");
    server.stop().await;
}
