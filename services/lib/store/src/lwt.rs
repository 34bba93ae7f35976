//! Lightweight transactions (`IF NOT EXISTS`, `IF column = ?`): their
//! result row says whether the write applied and, when it did not, holds
//! the values that stopped it (the whole row for `IF NOT EXISTS`, the
//! conditioned columns otherwise).

use scylla::response::query_result::QueryResult;
use scylla::value::{CqlValue, Row};

use crate::{StoreError, rows_error};

/// What a conditional statement found.
#[derive(Debug)]
pub(crate) struct Conditional {
    /// The write happened.
    pub(crate) applied: bool,
    names: Vec<String>,
    values: Vec<Option<CqlValue>>,
}

impl Conditional {
    /// Reads the `[applied]` column and the rest of the result row of
    /// `table`.
    pub(crate) fn of(result: QueryResult, table: &'static str) -> Result<Self, StoreError> {
        let rows = result
            .into_rows_result()
            .map_err(|e| rows_error(table, e))?;
        let names: Vec<String> = rows
            .column_specs()
            .iter()
            .map(|spec| spec.name().to_owned())
            .collect();
        let values = rows
            .maybe_first_row::<Row>()
            .map_err(|e| rows_error(table, e))?
            .map(|row| row.columns)
            .unwrap_or_default();
        let mut found = Self {
            applied: false,
            names,
            values,
        };
        found.applied = match found.get("[applied]") {
            Some(CqlValue::Boolean(applied)) => *applied,
            other => {
                return Err(rows_error(
                    table,
                    format!("no [applied] column in a conditional result ({other:?})"),
                ));
            }
        };
        Ok(found)
    }

    /// The value of `column` in the result row, if it has one.
    pub(crate) fn get(&self, column: &str) -> Option<&CqlValue> {
        let at = self.names.iter().position(|name| name == column)?;
        self.values.get(at)?.as_ref()
    }
}
