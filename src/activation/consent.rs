//! Marketing consent: with `[privacy] consent_table` set, audience members and exported
//! rows are kept only when that table says the person agreed (`consent_column` true for
//! their `consent_key`); a row whose key the table does not know has no consent. The
//! query must carry the key column, or it is refused: nobody is marketed to by accident.
//! Only an admin's definition opts out (`-- consent: ignore` in an audience,
//! `ignore_consent = true` on an export), logged each time it applies.

use datafusion::common::Column;
use datafusion::execution::session_state::SessionState;
use datafusion::logical_expr::{JoinType, LogicalPlan, LogicalPlanBuilder};

use crate::config::PrivacyConfig;
use crate::engine::prepare;
use crate::error::Error;

/// The configured consent rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    table: String,
    key: String,
    column: String,
}

/// The column the consent subquery names its key (never a user's column name).
const CONSENTED_KEY: &str = "__datapunk_consented_key";

impl Consent {
    /// The rule of `[privacy]`, if one is configured.
    pub fn from_config(privacy: &PrivacyConfig) -> Option<Self> {
        (!privacy.consent_table.is_empty()).then(|| Self {
            table: privacy.consent_table.clone(),
            key: privacy.consent_key.clone(),
            column: privacy.consent_column.clone(),
        })
    }

    /// `plan`'s rows whose key has consent; `what` names the audience or export in errors.
    ///
    /// # Errors
    /// `plan` lacks the key column, or the consent table cannot be read.
    pub async fn keep_consented(
        &self,
        state: &SessionState,
        plan: LogicalPlan,
        what: &str,
    ) -> Result<LogicalPlan, Error> {
        let Ok((qualifier, field)) = plan
            .schema()
            .qualified_field_with_unqualified_name(&self.key)
        else {
            return Err(Error::InvalidArgument {
                function: "consent",
                message: format!(
                    "{what} has no column {:?}: consent ([privacy] consent_table = {:?}) is \
                     recorded by it; select it, or have an admin opt out of consent",
                    self.key, self.table
                ),
            });
        };
        let key = Column::from((qualifier, field));
        let consented = prepare::plan_query(
            state,
            &format!(
                "SELECT DISTINCT {key} AS {CONSENTED_KEY} FROM {table} WHERE {column} IS TRUE",
                key = quote(&self.key),
                table = self.table,
                column = quote(&self.column),
            ),
        )
        .await?;
        Ok(LogicalPlanBuilder::from(plan)
            .join(
                consented,
                JoinType::LeftSemi,
                (vec![key], vec![Column::from_name(CONSENTED_KEY)]),
                None,
            )?
            .build()?)
    }
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
