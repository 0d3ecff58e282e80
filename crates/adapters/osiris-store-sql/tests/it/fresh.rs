//! A fresh, uniquely named database per test, dropped afterwards.

use std::str::FromStr;

use osiris_store_sql::PgStore;
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgConnection};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

pub(crate) struct FreshDatabase {
    admin: PgConnectOptions,
    name: String,
    pub(crate) options: PgConnectOptions,
}

impl FreshDatabase {
    pub(crate) async fn create() -> Self {
        let url =
            std::env::var("OSIRIS_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
        let admin = PgConnectOptions::from_str(&url).unwrap_or_else(|error| {
            panic!("OSIRIS_TEST_DATABASE_URL is not a postgres url: {error}")
        });
        let mut connection = admin.connect().await.unwrap_or_else(|error| {
            panic!(
                "cannot reach PostgreSQL at {host}:{port} (set OSIRIS_TEST_DATABASE_URL, \
                 or start PostgreSQL 15+; this test never skips): {error}",
                host = admin.get_host(),
                port = admin.get_port(),
            )
        });
        let name = format!("osiris_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut connection)
            .await
            .unwrap();
        connection.close().await.unwrap();
        let options = admin.clone().database(&name);
        Self {
            admin,
            name,
            options,
        }
    }

    /// Applies the store's migrations by opening the store once.
    pub(crate) async fn migrate(&self) {
        PgStore::connect_with(self.options.clone())
            .await
            .unwrap()
            .close()
            .await;
    }

    pub(crate) async fn connection(&self) -> PgConnection {
        self.options.connect().await.unwrap()
    }

    pub(crate) async fn drop_database(self) {
        let mut connection = self.admin.connect().await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE {} WITH (FORCE)",
            self.name
        )))
        .execute(&mut connection)
        .await
        .unwrap();
        connection.close().await.unwrap();
    }
}
