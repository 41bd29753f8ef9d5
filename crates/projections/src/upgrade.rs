//! What the migrations of the read models ask an older database before they change it.

use rusqlite::{Connection, OptionalExtension};

/// Whether the schema already has what `sql` looks for (a query of `sqlite_master` or
/// `pragma_table_info` for one name): what a migration asks before it adds a table or a
/// column to an older database.
pub(crate) fn schema_has(connection: &Connection, sql: &str) -> Result<bool, rusqlite::Error> {
    let name: Option<String> = connection.query_row(sql, [], |row| row.get(0)).optional()?;
    Ok(name.is_some())
}
