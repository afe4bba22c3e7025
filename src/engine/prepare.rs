//! The one door for SQL text: every path that runs SQL (the simple and extended
//! protocols, COPY, cursors, warehouse scripts, table functions' inner queries) parses it
//! here, once, with PostgreSQL's dialect applied ([`dialect::parse`]), and plans the
//! statements it got from here. The same text means the same thing everywhere.

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use futures::FutureExt;

use crate::pg::dialect;

/// The statements of `sql`, parsed once as PostgreSQL writes them, dialect applied.
///
/// # Errors
/// The text does not parse (42601).
pub fn parse(sql: &str) -> Result<Vec<Statement>> {
    dialect::parse(sql).map_err(|e| DataFusionError::SQL(Box::new(e), None))
}

/// The plan of one statement from [`parse`].
///
/// # Errors
/// The statement does not plan (unknown names, types, ...).
pub async fn plan(state: &SessionState, statement: &Statement) -> Result<LogicalPlan> {
    let plan = state
        .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
        .await?;
    crate::pg::literals::fold_integer_literals(plan)
}

/// The plan of `sql`, which must be exactly one query.
///
/// # Errors
/// It does not parse or plan, or is not one query.
pub async fn plan_query(state: &SessionState, sql: &str) -> Result<LogicalPlan> {
    let statement = one_query(sql)?;
    plan(state, &statement).await
}

/// [`plan_query`] for callers inside planning (table functions): datapunk's catalogs
/// answer at once, so planning never has to wait. Its errors carry no location: one would point into `sql`, not into the client's
/// statement that gave it as an argument.
///
/// # Errors
/// As [`plan_query`], or planning would have to wait.
pub fn plan_query_now(state: &SessionState, sql: &str) -> Result<LogicalPlan> {
    let planned = one_query(sql).and_then(|statement| {
        plan(state, &statement).now_or_never().unwrap_or_else(|| {
            Err(DataFusionError::Plan(
                "the query could not be planned without waiting".into(),
            ))
        })
    });
    planned.map_err(without_location)
}

/// `error` without the location DataFusion's planner or the parser gave it.
fn without_location(error: DataFusionError) -> DataFusionError {
    match error {
        DataFusionError::Diagnostic(_, inner) => without_location(*inner),
        DataFusionError::SQL(parser, _) => DataFusionError::External(parser),
        other => other,
    }
}

fn one_query(sql: &str) -> Result<Statement> {
    let mut statements = parse(sql)?;
    match (statements.pop(), statements.is_empty()) {
        (Some(statement @ Statement::Query(_)), true) => Ok(statement),
        _ => Err(DataFusionError::Plan(format!(
            "expected exactly one query, got: {}",
            sql.chars().take(60).collect::<String>()
        ))),
    }
}

/// The line of the SQL text an error points at, where the parser or planner says.
pub fn error_line(error: &DataFusionError) -> Option<usize> {
    let (_, message) = crate::error::classify_datafusion(error);
    error
        .diagnostic()
        .and_then(|d| d.span)
        .map(|span| usize::try_from(span.start.line).unwrap_or(0))
        .filter(|l| *l > 0)
        .or_else(|| line_in_message(&message))
}

/// "... at Line: 3, Column: 7" → 3.
pub fn line_in_message(message: &str) -> Option<usize> {
    let rest = &message[message.find("Line: ")? + "Line: ".len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// The value of a `-- name: value` comment line of a script or definition (`-- key:
/// customer_id`, `-- schedule: */15 * * * *`).
pub fn comment_setting(sql: &str, name: &str) -> Option<String> {
    sql.lines()
        .filter_map(|l| l.trim().strip_prefix("--"))
        .filter_map(|l| l.trim().strip_prefix(name)?.strip_prefix(':'))
        .map(|k| k.trim().to_owned())
        .find(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_line_in_parser_messages() {
        assert_eq!(
            line_in_message("Expected: x, found: y at Line: 12, Column: 3"),
            Some(12)
        );
        assert_eq!(line_in_message("no position"), None);
    }
}

/// The statements of `sql` as written, split at the semicolons between them (not those
/// in strings, quoted names or comments); empty ones dropped. `None` when the text
/// cannot even be tokenized. Lets one simple query mix SQL with commands the SQL
/// parser does not know (`REFRESH AUDIENCE x; SELECT ...`).
pub fn statement_texts(sql: &str) -> Option<Vec<&str>> {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |at: Location| {
        let start = *line_starts.get(usize::try_from(at.line).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
        sql[start..]
            .char_indices()
            .nth(column)
            .map(|(i, _)| start + i)
    };
    let mut texts = Vec::new();
    let mut from = 0;
    for token in tokens {
        if token.token == Token::SemiColon {
            let at = offset(token.span.start)?;
            texts.push(&sql[from..at]);
            from = at + 1;
        }
    }
    texts.push(&sql[from..]);
    texts.retain(|t| !t.trim().is_empty());
    Some(texts)
}

#[cfg(test)]
mod statement_text_tests {
    use super::statement_texts;

    #[test]
    fn statements_split_at_semicolons_outside_strings_names_and_comments() {
        assert_eq!(
            statement_texts("RUN EXPORT a; SELECT 'x;y', \"a;b\" -- c;d\nFROM t;\n  ;REFRESH LAKE"),
            Some(vec![
                "RUN EXPORT a",
                " SELECT 'x;y', \"a;b\" -- c;d\nFROM t",
                "REFRESH LAKE"
            ])
        );
        assert_eq!(
            statement_texts("SELECT 'é;' ;\nSELECT $$a;b$$"),
            Some(vec!["SELECT 'é;' ", "\nSELECT $$a;b$$"])
        );
        assert_eq!(statement_texts(" ; "), Some(vec![]));
    }
}
