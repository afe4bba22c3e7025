//! Time travel as SQL:2011 and Spark write it: `FROM lake.accounts FOR SYSTEM_TIME AS OF
//! '2026-12-01 10:00:00'`, `... VERSION AS OF 3`, `... TIMESTAMP AS OF '...'` after a
//! table name read as the lake's versioned name `lake."accounts@3"` (resolved by the
//! lake's schema: `lake::time_travel`). PostgreSQL's grammar has no such clause, and
//! sqlparser's PostgreSQL dialect does not read it, so the tokens are rewritten before
//! parsing; only a literal version or time is taken.

use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};

/// `sql` with every `<table> FOR SYSTEM_TIME AS OF <literal>` (and `VERSION AS OF`,
/// `TIMESTAMP AS OF`) written as the versioned table name, the rest of the text as it
/// was; `None` when it has none (or does not tokenize: the parser then reports it).
pub fn versioned_names(sql: &str) -> Option<String> {
    let lower = sql.to_ascii_lowercase();
    let words = || lower.split_ascii_whitespace();
    if !words().any(|w| w == "as") || !words().any(|w| w == "of") {
        return None;
    }
    let located = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .ok()?;
    let tokens: Vec<Token> = located.iter().map(|t| t.token.clone()).collect();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let offset = |at: Location| -> Option<usize> {
        let start = *line_starts.get(usize::try_from(at.line).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(at.column).ok()?.checked_sub(1)?;
        sql[start..]
            .char_indices()
            .map(|(i, _)| start + i)
            .chain(std::iter::once(sql.len()))
            .nth(column)
    };
    let mut out = String::with_capacity(sql.len());
    let mut copied = 0;
    let mut i = 0;
    while i < tokens.len() {
        let found = as_of_clause(&tokens, i).and_then(|(value, end)| {
            let name = table_before(&tokens[..i])?;
            let Token::Word(word) = &tokens[name] else {
                return None;
            };
            let from = offset(located[name].span.start)?;
            let to = offset(located[end - 1].span.end)?;
            Some((format!("{}@{value}", word.value), from, to, end))
        });
        match found {
            Some((versioned, from, to, end)) if from >= copied => {
                out.push_str(&sql[copied..from]);
                out.push('"');
                out.push_str(&versioned.replace('"', "\"\""));
                out.push('"');
                copied = to;
                i = end;
            }
            _ => i += 1,
        }
    }
    (copied > 0).then(|| {
        out.push_str(&sql[copied..]);
        out
    })
}

/// The version or time of an `AS OF` clause starting at `tokens[at]` (whitespace before
/// it included), and the index after it.
fn as_of_clause(tokens: &[Token], at: usize) -> Option<(String, usize)> {
    let mut i = at;
    let mut next = || -> Option<&Token> {
        while matches!(tokens.get(i)?, Token::Whitespace(_)) {
            i += 1;
        }
        i += 1;
        tokens.get(i - 1)
    };
    let keyword = |t: Option<&Token>, k: Keyword| matches!(t, Some(Token::Word(w)) if w.keyword == k && w.quote_style.is_none());
    let first = next();
    if keyword(first, Keyword::FOR) {
        if !keyword(next(), Keyword::SYSTEM_TIME) {
            return None;
        }
    } else if !keyword(first, Keyword::VERSION) && !keyword(first, Keyword::TIMESTAMP) {
        return None;
    }
    if !keyword(next(), Keyword::AS) || !keyword(next(), Keyword::OF) {
        return None;
    }
    let value = match next()? {
        Token::SingleQuotedString(s) => s.clone(),
        Token::Number(n, _) => n.clone(),
        // `TIMESTAMP '2026-12-01 10:00:00'`
        Token::Word(w) if w.keyword == Keyword::TIMESTAMP => match next()? {
            Token::SingleQuotedString(s) => s.clone(),
            _ => return None,
        },
        _ => return None,
    };
    Some((value, i))
}

/// The index of the table name ending `before` (its last part), when what comes before
/// it makes it one: `FROM name`, `JOIN name`, `, name` or `schema.name`.
fn table_before(before: &[Token]) -> Option<usize> {
    let solid = |t: &&Token| !matches!(t, Token::Whitespace(_));
    let last = before.iter().rposition(|t| solid(&t))?;
    let Token::Word(name) = &before[last] else {
        return None;
    };
    if name.quote_style.is_none()
        && matches!(
            name.keyword,
            Keyword::SELECT | Keyword::WHERE | Keyword::FROM | Keyword::JOIN | Keyword::ON
        )
    {
        return None;
    }
    let opens_a_table = match before[..last].iter().rev().find(solid) {
        Some(Token::Period | Token::Comma) => true,
        Some(Token::Word(w)) => matches!(w.keyword, Keyword::FROM | Keyword::JOIN),
        _ => false,
    };
    opens_a_table.then_some(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_clauses_become_versioned_names() {
        let cases = [
            (
                "SELECT * FROM lake.accounts FOR SYSTEM_TIME AS OF '2026-12-01 10:00:00' WHERE id = 1",
                "SELECT * FROM lake.\"accounts@2026-12-01 10:00:00\" WHERE id = 1",
            ),
            (
                "select * from accounts version as of 3 a join lake.events timestamp as of timestamp '2026-12-01' e on true",
                "select * from \"accounts@3\" a join lake.\"events@2026-12-01\" e on true",
            ),
            (
                "SELECT * FROM lake.\"Accounts\" FOR SYSTEM_TIME AS OF 5",
                "SELECT * FROM lake.\"Accounts@5\"",
            ),
            (
                "SELECT 'it''s', * FROM t VERSION AS OF 2\nWHERE s = 'a''b'",
                "SELECT 'it''s', * FROM \"t@2\"\nWHERE s = 'a''b'",
            ),
        ];
        for (sql, rewritten) in cases {
            assert_eq!(versioned_names(sql).as_deref(), Some(rewritten), "{sql}");
        }
    }

    #[test]
    fn other_text_is_left_alone() {
        for sql in [
            "SELECT 1",
            "SELECT x AS of FROM t",
            "SELECT ts::timestamp AS of FROM t",
            "SELECT 'FOR SYSTEM_TIME AS OF 3' FROM t",
            "SELECT * FROM t WHERE x = 'it''s' AND y AS of",
            // Not a literal: left for the parser to refuse.
            "SELECT * FROM t FOR SYSTEM_TIME AS OF now()",
        ] {
            assert_eq!(versioned_names(sql), None, "{sql}");
        }
    }
}
