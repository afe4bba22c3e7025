//! PostgreSQL's result types for functions DataFusion types otherwise, given in the
//! syntax tree so clients are told them: `row_number`, `rank`, `dense_rank` and
//! `regr_count` are `bigint` (DataFusion: an unsigned 64-bit integer, which clients would
//! see as a `numeric` and drivers read as decimals); `ntile`, `array_length`,
//! `cardinality` and `array_position` are `integer`.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{CastKind, DataType, Expr, Query, VisitMut, VisitorMut};

/// The SQL type PostgreSQL gives the result of function `name`, where DataFusion's differs.
fn postgres_result(name: &str) -> Option<DataType> {
    match name {
        "row_number" | "rank" | "dense_rank" | "regr_count" => Some(DataType::BigInt(None)),
        "ntile" | "array_length" | "cardinality" | "array_position" => {
            Some(DataType::Integer(None))
        }
        _ => None,
    }
}

/// Casts the calls of such functions in `query` to PostgreSQL's type; whether any.
pub fn cast_results(query: &mut Query) -> bool {
    let mut visitor = Results { changed: false };
    let _ = query.visit(&mut visitor);
    visitor.changed
}

struct Results {
    changed: bool,
}

impl VisitorMut for Results {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let name = crate::pg::function_name(expr);
        if let Some(data_type) = name.as_deref().and_then(postgres_result) {
            *expr = Expr::Cast {
                kind: CastKind::Cast,
                expr: Box::new(expr.clone()),
                data_type,
                array: false,
                format: None,
            };
            self.changed = true;
        }
        ControlFlow::Continue(())
    }
}
