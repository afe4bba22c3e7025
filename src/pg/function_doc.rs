//! What SQL users are told about each datapunk function: name, kind, parameters (with
//! PostgreSQL types and defaults), result, description and an example with its real
//! output. One [`FunctionDoc`] per function is the single source for DataFusion's
//! `Documentation` (and so `information_schema.routines`), the `pg_proc` rows psql's
//! `\df` reads, `pg_get_function_arguments/result`, `obj_description`, and the defaults
//! the named-argument rewrite fills in ([`crate::pg::dialect`]).
//!
//! The model lives in the PostgreSQL layer, which answers from it; the functions and
//! their documentation are above it and [`install`] their list once per process.

use std::sync::OnceLock;

use datafusion::logical_expr::{DocSection, Documentation, Signature, Volatility};

/// The documented functions of this process.
static DOCUMENTED: OnceLock<&'static [FunctionDoc]> = OnceLock::new();

/// Makes `docs` the documented functions the catalogs and the dialect answer from (the
/// first call wins: the list is the same in every session).
pub fn install(docs: &'static [FunctionDoc]) {
    let _ = DOCUMENTED.set(docs);
}

/// The documented functions ([`install`]); none before.
pub fn documented() -> &'static [FunctionDoc] {
    DOCUMENTED.get().copied().unwrap_or(&[])
}

/// The `pg_proc.oid` of the i-th documented function: a range PostgreSQL's own catalog
/// does not use (its objects stay below 16384, user objects start just above).
const FIRST_OID: i64 = 900_000;

/// Each documented function with its `pg_proc.oid`.
pub fn with_oids() -> impl Iterator<Item = (i64, &'static FunctionDoc)> {
    documented()
        .iter()
        .enumerate()
        .map(|(i, d)| (FIRST_OID + i as i64, d))
}

/// The documented function with `pg_proc.oid` `oid`.
pub fn by_oid(oid: i64) -> Option<&'static FunctionDoc> {
    let index = usize::try_from(oid.checked_sub(FIRST_OID)?).ok()?;
    documented().get(index)
}

/// The documentation of function `name`, if it is documented.
pub fn by_name(name: &str) -> Option<&'static FunctionDoc> {
    documented()
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

/// How a function is called, as `pg_proc.prokind` and `\df`'s "Type" column say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Scalar,
    Aggregate,
    Window,
    /// Set-returning: used in FROM.
    Table,
}

impl Kind {
    /// `pg_proc.prokind`.
    pub fn prokind(self) -> &'static str {
        match self {
            Kind::Scalar | Kind::Table => "f",
            Kind::Aggregate => "a",
            Kind::Window => "w",
        }
    }
}

/// One parameter: its name, PostgreSQL type and default (SQL text), if optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Param {
    pub name: &'static str,
    pub pg_type: &'static str,
    pub default: Option<&'static str>,
}

/// A required parameter.
pub const fn required(name: &'static str, pg_type: &'static str) -> Param {
    Param {
        name,
        pg_type,
        default: None,
    }
}

/// An optional parameter with its default as SQL text.
pub const fn optional(name: &'static str, pg_type: &'static str, default: &'static str) -> Param {
    Param {
        name,
        pg_type,
        default: Some(default),
    }
}

/// Everything users are told about one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FunctionDoc {
    pub name: &'static str,
    pub kind: Kind,
    pub params: &'static [Param],
    /// The result type as PostgreSQL prints it (`integer`, `TABLE(customer bigint, ...)`).
    pub result: &'static str,
    pub description: &'static str,
    /// An example query, and its real output as psql prints it (cells left-aligned);
    /// `tests/integration/marketing.rs` runs every example and compares.
    pub example: &'static str,
    pub example_output: &'static str,
}

impl FunctionDoc {
    /// `pg_get_function_arguments`: `value double precision, n integer DEFAULT 5`.
    pub fn arguments(&self) -> String {
        self.params
            .iter()
            .map(|p| match p.default {
                Some(d) => format!("{} {} DEFAULT {d}", p.name, p.pg_type),
                None => format!("{} {}", p.name, p.pg_type),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The call with its parameter names: `rfm_score(value [, n [, ...]])`.
    pub fn syntax(&self) -> String {
        let mut out = format!("{}(", self.name);
        let mut optional = 0;
        for (i, p) in self.params.iter().enumerate() {
            if p.default.is_some() {
                out.push_str(if i == 0 { "[" } else { " [" });
                optional += 1;
            }
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(p.name);
        }
        out.push_str(&"]".repeat(optional));
        out.push(')');
        out
    }

    /// A user-defined signature (the function coerces its own arguments) that knows the
    /// parameter names, so DataFusion names the valid ones when a call misspells one.
    pub fn signature(&self, volatility: Volatility) -> Signature {
        let plain = Signature::user_defined(volatility);
        let names: Vec<&str> = self.params.iter().map(|p| p.name).collect();
        plain.clone().with_parameter_names(names).unwrap_or(plain)
    }

    /// DataFusion's form of this documentation.
    pub fn documentation(&self) -> Documentation {
        let section = DocSection {
            include: true,
            label: "Marketing Functions",
            description: Some("datapunk's marketing analytics"),
        };
        let mut doc = Documentation::builder(section, self.description, self.syntax())
            .with_sql_example(format!(
                "```sql\n{};\n```\n```\n{}\n```",
                self.example, self.example_output
            ));
        for p in self.params {
            let text = match p.default {
                Some(d) => format!("{} (default {d})", p.pg_type),
                None => p.pg_type.to_owned(),
            };
            doc = doc.with_argument(p.name, text);
        }
        doc.build()
    }
}
