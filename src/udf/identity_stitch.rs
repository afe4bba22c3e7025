//! `identity_stitch(edges, ...)`: identifiers seen together are one person. The input is
//! a table name or a query whose four columns are (id_type_a, id_a, id_type_b, id_b),
//! ids of any type read as text; the result is one row per identifier with its person
//! id, or, with `output => 'refusals'`, what the guards refused and which earlier persons
//! merged. The logic is in [`crate::marketing::identity`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Int64Array, RecordBatch, RecordBatchOptions, StringArray,
    StringBuilder, StringViewArray,
};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::LogicalPlan;

use super::computed_table::{Computation, ComputedTable, Input};
use super::table_args::{column_index, require_columns, select_columns, session_state, Args};
use crate::error::limit_exceeded;
use crate::marketing::identity::{Graph, Id, Persons, Prepared, Preparer, Refusal, Rules, Side};
use crate::pg::function_doc::{optional, required, FunctionDoc, Kind};

pub const IDENTITY_STITCH: FunctionDoc = FunctionDoc {
    name: "identity_stitch",
    kind: Kind::Table,
    params: &[
        required("edges", "text"),
        optional("max_ids_per_type", "text", "NULL"),
        optional("priority", "text", "NULL"),
        optional("blocklist", "text", "NULL"),
        optional("previous", "text", "NULL"),
        optional("output", "text", "'ids'"),
    ],
    result: "TABLE(id_type text, id text, person_id bigint)",
    description: "Identity resolution: identifiers seen together are one person (connected \
                  components by union-find). edges is a table name or a SELECT whose four \
                  columns are (id_type_a, id_a, id_type_b, id_b), ids of any type read as \
                  text; a NULL side makes the other identifier a node of its own. Guards \
                  against bad merges: junk values ('', 'unknown', 'null', 'undefined', test \
                  e-mails, and the comma-separated blocklist) are never identifiers; \
                  max_ids_per_type ('customer=1, email=3') refuses an edge that would give \
                  a person more identifiers of a type, merging edges between trusted types \
                  first; priority ('customer, email, anonymous_id') orders the types. \
                  person_id is a hash of the person's anchor (its identifier of the first \
                  type in priority order, smallest value), the same whatever the edges' \
                  order; previous (a table or query of id_type, id, person_id from an \
                  earlier run) keeps the person id most of a person's identifiers had. \
                  output => 'refusals' returns TABLE(event text, id_type_a text, id_a text, \
                  id_type_b text, id_b text, detail text) instead: blocked identifiers, \
                  refused edges and earlier persons merged into another.",
    example: r#"SELECT id_type, id, person_id = min(person_id) OVER () AS same_person
FROM identity_stitch('SELECT * FROM (VALUES (''cookie'', ''c1'', ''email'', ''ann@x.com''), (''email'', ''ann@x.com'', ''customer'', ''42''), (''cookie'', ''c2'', ''customer'', ''42'')) AS e(ta, a, tb, b)')
ORDER BY id_type, id"#,
    example_output: r#" id_type  | id        | same_person
----------+-----------+-------------
 cookie   | c1        | t
 cookie   | c2        | t
 customer | 42        | t
 email    | ann@x.com | t"#,
};

#[derive(Debug, Default)]
pub struct IdentityStitchFunction;

/// What the call returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Output {
    Ids,
    Refusals,
}

#[derive(Debug)]
struct Stitch {
    rules: Rules,
    output: Output,
    /// Whether the second input is the previous run's assignments.
    with_previous: bool,
}

impl TableFunctionImpl for IdentityStitchFunction {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let name = IDENTITY_STITCH.name;
        let state = session_state(&args, name)?;
        let a = Args::new(&IDENTITY_STITCH, args.exprs())?;
        let edges = a.source(state, 0)?;
        require_columns(&edges, 4..=4, "(id_type_a, id_a, id_type_b, id_b)", name)?;
        // Views: Parquet strings are read as views, and nothing is copied to look at them.
        let text = DataType::Utf8View;
        let mut inputs = vec![select_columns(
            edges,
            &[
                (0, text.clone()),
                (1, text.clone()),
                (2, text.clone()),
                (3, text.clone()),
            ],
        )?];
        let rules = Rules {
            max_ids_per_type: limits(&a)?,
            priority: list(a.text(2)?),
            blocklist: list(a.text(3)?),
        };
        let with_previous = match a.text(4)? {
            Some(_) => {
                inputs.push(previous_input(a.source(state, 4)?)?);
                true
            }
            None => false,
        };
        let output = match a.text(5)?.as_deref().map(str::trim) {
            None | Some("ids") => Output::Ids,
            Some("refusals") => Output::Refusals,
            Some(other) => {
                return Err(a.bad(format!("output must be 'ids' or 'refusals', got '{other}'")))
            }
        };
        Ok(ComputedTable::new(
            inputs,
            Stitch {
                rules,
                output,
                with_previous,
            },
        ))
    }
}

/// The (id_type, id, person_id) columns of an earlier run.
fn previous_input(plan: LogicalPlan) -> Result<LogicalPlan> {
    let name = IDENTITY_STITCH.name;
    let columns = [
        (column_index(&plan, "id_type", name)?, DataType::Utf8View),
        (column_index(&plan, "id", name)?, DataType::Utf8View),
        (column_index(&plan, "person_id", name)?, DataType::Int64),
    ];
    select_columns(plan, &columns)
}

/// A comma-separated list, trimmed, without empty items.
fn list(text: Option<String>) -> Vec<String> {
    text.map(|t| {
        t.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    })
    .unwrap_or_default()
}

/// `max_ids_per_type`: `type=N` items.
fn limits(a: &Args) -> Result<Vec<(String, u32)>> {
    list(a.text(1)?)
        .into_iter()
        .map(|item| {
            let parsed = item
                .split_once('=')
                .and_then(|(t, n)| Some((t.trim().to_owned(), n.trim().parse::<u32>().ok()?)))
                .filter(|(t, n)| !t.is_empty() && *n >= 1);
            parsed.ok_or_else(|| {
                a.bad(format!(
                    "max_ids_per_type must be items like 'email=3' (a type and a limit of at \
                     least 1), got '{item}'"
                ))
            })
        })
        .collect()
}

/// The text columns of a batch.
fn texts(batch: &RecordBatch) -> Vec<&StringViewArray> {
    batch
        .columns()
        .iter()
        .filter_map(|c| c.as_string_view_opt())
        .collect()
}

/// The edges of a batch's four text columns (id_type_a, id_a, id_type_b, id_b), made
/// ready for the graph. A type of at most 12 bytes is the whole of its view, which then
/// stands for it: most types are numbered without reading their text.
fn prepare(preparer: &mut Preparer, batch: &RecordBatch) -> Result<Prepared> {
    let t = texts(batch);
    let short = |column: &StringViewArray, row: usize| {
        let view = column.views()[row];
        (view as u32 <= 12).then_some(view)
    };
    preparer
        .prepare_sides(batch.num_rows(), |edge, side| {
            let (row, s) = (edge as usize, usize::from(side) * 2);
            let (types, values) = (t[s], t[s + 1]);
            (types.is_valid(row) && values.is_valid(row)).then(|| Side {
                type_name: types.value(row),
                type_token: short(types, row),
                value: values.value(row),
            })
        })
        .map_err(|e| limit_exceeded("identity_stitch", e.to_string()))
}

fn value(column: &StringViewArray, row: usize) -> Option<&str> {
    column.is_valid(row).then(|| column.value(row))
}

/// An edge's side: its identifier when both type and value are there.
fn side<'a>(id_type: Option<&'a str>, id: Option<&'a str>) -> Option<Id<'a>> {
    id_type.zip(id)
}

fn cancelled() -> DataFusionError {
    DataFusionError::Execution("identity_stitch was cancelled".into())
}

impl Computation for Stitch {
    fn name(&self) -> &'static str {
        IDENTITY_STITCH.name
    }

    fn schema(&self) -> SchemaRef {
        let text = |name: &str| Field::new(name, DataType::Utf8, true);
        Arc::new(Schema::new(match self.output {
            Output::Ids => vec![
                Field::new("id_type", DataType::Utf8, false),
                Field::new("id", DataType::Utf8, false),
                Field::new("person_id", DataType::Int64, false),
            ],
            Output::Refusals => vec![
                Field::new("event", DataType::Utf8, false),
                text("id_type_a"),
                text("id_a"),
                text("id_type_b"),
                text("id_b"),
                text("detail"),
            ],
        }))
    }

    fn streams_first_input(&self) -> bool {
        true
    }

    fn compute(&self, inputs: Vec<Input>, stop: &AtomicBool) -> Result<RecordBatch> {
        self.compute_columns(inputs, stop, None)
    }

    fn compute_columns(
        &self,
        inputs: Vec<Input>,
        stop: &AtomicBool,
        projection: Option<&[usize]>,
    ) -> Result<RecordBatch> {
        let mut inputs = inputs.into_iter();
        let mut edges = inputs.next().expect("the edges");
        let previous_batches = if self.with_previous {
            inputs.next().map(|i| i.batches).unwrap_or_default()
        } else {
            Vec::new()
        };
        let started = std::time::Instant::now();
        let mut graph = Graph::new(self.rules.clone());
        if let Some(rows) = edges.rows_hint() {
            graph.expect_edges(rows);
        }
        let mut preparer = graph.take_preparer();
        let mut arrivals = edges.arrivals();
        // Edges are prepared (types numbered, junk set aside, keys hashed) on a second
        // thread while this one numbers and merges the previous batch.
        std::thread::scope(|scope| -> Result<()> {
            let (sender, prepared) = std::sync::mpsc::sync_channel(2);
            let preparing = std::thread::Builder::new().name("identity_stitch prepare".into());
            preparing
                .spawn_scoped(scope, move || {
                    while let Some(batch) = arrivals.next_batch() {
                        let item = batch.and_then(|batch| {
                            let ready = prepare(&mut preparer, &batch)?;
                            Ok((batch, ready))
                        });
                        let failed = item.is_err();
                        if sender.send(item).is_err() || failed {
                            break;
                        }
                    }
                })
                .map_err(|e| {
                    DataFusionError::Execution(format!(
                        "identity_stitch: no thread to read with: {e}"
                    ))
                })?;
            for item in prepared {
                let (batch, ready) = item?;
                if stop.load(Ordering::Relaxed) {
                    return Err(cancelled());
                }
                let t = texts(&batch);
                graph.add_prepared(&ready, |edge, side| {
                    t[usize::from(side) * 2 + 1].value(edge as usize)
                });
                edges.hold(graph.heap_bytes())?;
            }
            Ok(())
        })?;
        let previous = previous_batches.iter().flat_map(|batch| {
            let t = texts(batch);
            let persons = batch.column(2).as_primitive::<Int64Type>();
            (0..batch.num_rows()).filter_map(move |row| {
                let id = side(value(t[0], row), value(t[1], row))?;
                persons.is_valid(row).then(|| (id, persons.value(row)))
            })
        });
        let merged = started.elapsed();
        let persons = graph.finish(previous, stop).ok_or_else(cancelled)?;
        tracing::debug!(
            identifiers = persons.len(),
            read_and_merged_s = merged.as_secs_f64(),
            finished_s = (started.elapsed() - merged).as_secs_f64(),
            "identity_stitch"
        );
        drop(previous_batches);
        let schema = self.schema();
        let wanted: Vec<usize> = match projection {
            Some(p) => p.to_vec(),
            None => (0..schema.fields().len()).collect(),
        };
        let rows = match self.output {
            Output::Ids => persons.len(),
            Output::Refusals => persons.refusals.len() + persons.merged.len(),
        };
        let columns: Vec<ArrayRef> = match self.output {
            // Only the columns read are built (a count of persons needs no identifier text).
            Output::Ids => id_columns(persons, &wanted)?,
            Output::Refusals => {
                let all = refusal_columns(&persons.refusals, &persons.merged);
                wanted.iter().map(|&c| Arc::clone(&all[c])).collect()
            }
        };
        let schema = Arc::new(schema.project(&wanted)?);
        let options = RecordBatchOptions::new().with_row_count(Some(rows));
        Ok(RecordBatch::try_new_with_options(
            schema, columns, &options,
        )?)
    }
}

/// Columns `wanted` of the identifiers' output (id_type, id, person_id).
fn id_columns(persons: Persons, wanted: &[usize]) -> Result<Vec<ArrayRef>> {
    let mut built: [Option<ArrayRef>; 3] = [None, None, None];
    for &c in wanted.iter().filter(|c| **c < 2) {
        if built[c].is_none() {
            built[c] = Some(text_column(&persons, c)?);
        }
    }
    if wanted.contains(&2) {
        built[2] = Some(Arc::new(Int64Array::from(persons.into_person_ids())));
    }
    Ok(wanted
        .iter()
        .map(|&c| Arc::clone(built[c].as_ref().expect("built above")))
        .collect())
}

/// The id_type (`c` = 0) or id column of the identifiers' output.
fn text_column(persons: &Persons, c: usize) -> Result<ArrayRef> {
    let n = persons.len();
    let (type_len, value_len) = persons.text_len();
    let bytes = if c == 0 { type_len } else { value_len };
    if i32::try_from(bytes).is_err() {
        return Err(limit_exceeded(
            "identity_stitch",
            format!("the identifiers' text ({bytes} bytes) is more than a column holds (2 GiB)"),
        ));
    }
    // Sized at once: a growing column would copy itself into fresh memory at each step.
    let mut column = StringBuilder::with_capacity(n, bytes);
    for i in 0..n {
        let (id_type, id) = persons.id(i);
        column.append_value(if c == 0 { id_type } else { id });
    }
    Ok(Arc::new(column.finish()))
}

/// The rows of `output => 'refusals'`: blocked identifiers, refused edges, and each
/// earlier person whose identifiers now belong to another person.
fn refusal_columns(refusals: &[Refusal], merged: &[(i64, i64)]) -> Vec<ArrayRef> {
    let mut rows: Vec<[Option<String>; 6]> = Vec::new();
    let s = |v: &str| Some(v.to_owned());
    for r in refusals {
        rows.push(match r {
            Refusal::Blocked((t, v)) => [
                s("blocked"),
                s(t),
                s(v),
                None,
                None,
                s("a junk or blocklisted value"),
            ],
            Refusal::OverLimit {
                a,
                b,
                id_type,
                limit,
            } => [
                s("refused"),
                s(&a.0),
                s(&a.1),
                s(&b.0),
                s(&b.1),
                Some(format!(
                    "would give a person more than {limit} {id_type} identifiers"
                )),
            ],
        });
    }
    for (old, new) in merged {
        rows.push([
            s("merged"),
            s("person_id"),
            Some(old.to_string()),
            s("person_id"),
            Some(new.to_string()),
            s("an earlier person's identifiers now belong to this person"),
        ]);
    }
    (0..6)
        .map(|c| {
            Arc::new(StringArray::from(
                rows.iter().map(|r| r[c].clone()).collect::<Vec<_>>(),
            )) as ArrayRef
        })
        .collect()
}
