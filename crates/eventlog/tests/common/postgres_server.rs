//! The PostgreSQL server of the tests and benchmarks: its URL, and fresh databases on it.

/// The server the PostgreSQL tests and benchmarks use (`CLOOP_TEST_POSTGRES`), without a
/// database name.
pub fn postgres_base_url() -> String {
    let base = std::env::var("CLOOP_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_string());
    let base = base.trim_end_matches('/');
    // Drop a database name if the URL carries one.
    match base.find("://") {
        Some(scheme_end) => match base[scheme_end + 3..].find('/') {
            Some(slash) => base[..scheme_end + 3 + slash].to_string(),
            None => base.to_string(),
        },
        None => base.to_string(),
    }
}

/// Creates the database `name` afresh through `admin`, dropping a leftover one first.
pub fn recreate_database(admin: &mut postgres::Client, name: &str) {
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .expect("drop a leftover database");
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("create the database");
}
