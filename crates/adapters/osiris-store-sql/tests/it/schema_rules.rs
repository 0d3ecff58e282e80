//! The schema rules both engines enforce, asserted the same way on each.

use sqlx::{Connection, Executor};

/// Writes a first audit row with `insert`, then expects every statement of
/// `rewrites` to be refused by the schema's append-only rule.
pub(crate) async fn assert_audit_log_is_append_only<C>(
    mut connection: C,
    insert: &'static str,
    rewrites: &[&'static str],
) where
    C: Connection,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
{
    sqlx::raw_sql(insert)
        .execute(&mut connection)
        .await
        .unwrap();
    for statement in rewrites {
        let Err(error) = sqlx::raw_sql(*statement).execute(&mut connection).await else {
            panic!("{statement}: accepted");
        };
        assert!(
            error.to_string().contains("append-only"),
            "{statement}: {error}"
        );
    }
    connection.close().await.unwrap();
}

/// How many migration files `engine` embeds (`migrations/<engine>/`).
pub(crate) fn migration_files(engine: &str) -> i64 {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(engine);
    i64::try_from(std::fs::read_dir(dir).unwrap().count()).unwrap()
}

/// Expects the schema to refuse each `insert` of a credential whose sealed
/// form has the wrong shape, with an error naming `column`.
pub(crate) async fn assert_sealed_shape_is_checked<C>(mut connection: C, inserts: &[(&str, String)])
where
    C: Connection,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
{
    for (column, insert) in inserts {
        let statement = sqlx::raw_sql(sqlx::AssertSqlSafe(insert.as_str()));
        let Err(error) = statement.execute(&mut connection).await else {
            panic!("{insert}: accepted");
        };
        assert!(error.to_string().contains(column), "{insert}: {error}");
    }
    connection.close().await.unwrap();
}
