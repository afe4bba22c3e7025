//! Calls of datapunk functions with named arguments (`rfm(..., order_column =>
//! 'order_id')`): every skipped optional parameter gets its documented default and the
//! call becomes positional, as PostgreSQL fills defaults.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    Expr, FunctionArg, FunctionArgExpr, FunctionArguments, ObjectName, TableFactor, VisitMut,
    VisitorMut,
};

use super::*;

/// `rfm_score(x, ties => 'same')` → `rfm_score(x, 5, true, 'same')`: calls of datapunk
/// functions with named arguments become positional calls, every skipped optional
/// parameter taking its documented default ([`crate::pg::function_doc`]). DataFusion resolves
/// names itself only when no parameter before the last one given is skipped. Calls
/// naming an unknown parameter are left alone, so DataFusion reports them.
pub fn fill_named_arguments<V: VisitMut>(node: &mut V) -> bool {
    let mut calls = NamedArguments { changed: false };
    let _ = node.visit(&mut calls);
    calls.changed
}

/// The visitor behind [`fill_named_arguments`]: function calls in expressions and table
/// functions in FROM.
pub(super) struct NamedArguments {
    changed: bool,
}

impl VisitorMut for NamedArguments {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Function(function) = expr {
            if let FunctionArguments::List(list) = &mut function.args {
                if let Some(args) = positional(&function.name, &list.args) {
                    list.args = args;
                    self.changed = true;
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, table: &mut TableFactor) -> ControlFlow<()> {
        let (name, args) = match table {
            TableFactor::Table {
                name,
                args: Some(args),
                ..
            } => (&*name, &mut args.args),
            TableFactor::Function { name, args, .. } => (&*name, args),
            _ => return ControlFlow::Continue(()),
        };
        if let Some(new) = positional(name, args) {
            *args = new;
            self.changed = true;
        }
        ControlFlow::Continue(())
    }
}

/// The positional arguments of a call of a datapunk function that names some of its
/// arguments, or `None` when nothing is named or the call is not ours to fix.
pub(super) fn positional(name: &ObjectName, args: &[FunctionArg]) -> Option<Vec<FunctionArg>> {
    if args.iter().all(|a| matches!(a, FunctionArg::Unnamed(_))) {
        return None;
    }
    let doc = crate::pg::function_doc::by_name(&name.0.last()?.as_ident()?.value)?;
    let mut slots: Vec<Option<FunctionArgExpr>> = vec![None; doc.params.len()];
    for (i, arg) in args.iter().enumerate() {
        let (slot, value) = match arg {
            FunctionArg::Unnamed(value) => (Some(i), value),
            FunctionArg::Named { name, arg, .. }
            | FunctionArg::ExprNamed {
                name: Expr::Identifier(name),
                arg,
                ..
            } => (
                doc.params
                    .iter()
                    .position(|p| p.name.eq_ignore_ascii_case(&name.value)),
                arg,
            ),
            FunctionArg::ExprNamed { .. } => return None,
        };
        match slots.get_mut(slot?) {
            Some(place @ None) => *place = Some(value.clone()),
            _ => return None,
        }
    }
    let given = slots.iter().rposition(Option::is_some).map_or(0, |i| i + 1);
    let mut out = Vec::with_capacity(given);
    for (slot, param) in slots.into_iter().zip(doc.params).take(given) {
        let value = match (slot, param.default) {
            (Some(value), _) => value,
            (None, Some(default)) => FunctionArgExpr::Expr(parse_expr(default)?),
            // A required parameter is missing: DataFusion says so.
            (None, None) => return None,
        };
        out.push(FunctionArg::Unnamed(value));
    }
    Some(out)
}
