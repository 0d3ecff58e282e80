//! The tenant scope as SQL. Each predicate is a macro (statements must be
//! `&'static str`, so they are assembled with `concat!`) whose parameters
//! are the first ones of the statement; the matching `bind_*` function binds
//! them, and the statement's own parameters follow.
//!
//! - `site_visible!(col)`: `$1`–`$5`; the site in `col` is visible.
//! - `client_visible!(alias)`: `$1`–`$3`; the client row `alias` is visible.
//! - `partner_visible!(col)`: `$1`–`$2`; the partner id in `col` is visible.
//! - `user_visible!(alias)`: `$1`–`$3`; the user row `alias` is visible.

use osiris_store::TenantScope;
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{Database, Encode, Type};
use uuid::Uuid;

use super::Db;

type Args = <Db as Database>::Arguments;

/// A statement that takes bind parameters (any of sqlx's three builders).
pub(crate) trait Binder<'q>: Sized {
    /// Binds the next parameter.
    fn arg<T: 'q + Encode<'q, Db> + Type<Db>>(self, value: T) -> Self;
}

impl<'q> Binder<'q> for Query<'q, Db, Args> {
    fn arg<T: 'q + Encode<'q, Db> + Type<Db>>(self, value: T) -> Self {
        self.bind(value)
    }
}

impl<'q, O> Binder<'q> for QueryAs<'q, Db, O, Args> {
    fn arg<T: 'q + Encode<'q, Db> + Type<Db>>(self, value: T) -> Self {
        self.bind(value)
    }
}

impl<'q, O> Binder<'q> for QueryScalar<'q, Db, O, Args> {
    fn arg<T: 'q + Encode<'q, Db> + Type<Db>>(self, value: T) -> Self {
        self.bind(value)
    }
}

macro_rules! site_visible {
    ($column:literal) => {
        concat!(
            $column,
            " IN (SELECT vs.id FROM sites vs JOIN clients vc ON vc.id = vs.client_id",
            " WHERE $1 OR vc.partner_id = $2 OR vc.id = $3 OR vs.id = $5",
            " OR vs.id IN (SELECT va.site_id FROM auditor_sites va WHERE va.user_id = $4))"
        )
    };
}

macro_rules! client_visible {
    ($alias:literal) => {
        concat!(
            "($1 OR ",
            $alias,
            ".partner_id = $2 OR ",
            $alias,
            ".id = $3)"
        )
    };
}

macro_rules! partner_visible {
    ($column:literal) => {
        concat!("($1 OR ", $column, " = $2)")
    };
}

macro_rules! user_visible {
    ($alias:literal) => {
        concat!(
            "($1 OR ",
            $alias,
            ".partner_id = $2 OR ",
            $alias,
            ".client_id = $3 OR ",
            $alias,
            ".client_id IN (SELECT uc.id FROM clients uc WHERE uc.partner_id = $2))"
        )
    };
}

pub(crate) use {client_visible, partner_visible, site_visible, user_visible};

fn uuid<T>(id: Option<T>, as_uuid: impl Fn(&T) -> &Uuid) -> Option<Uuid> {
    id.as_ref().map(|id| *as_uuid(id))
}

/// Binds `$1`–`$5` of [`site_visible!`].
pub(crate) fn bind_sites<'q, B: Binder<'q>>(query: B, scope: &TenantScope) -> B {
    let filter = scope.filter();
    bind_clients(query, scope)
        .arg(uuid(filter.auditor, |id| id.as_uuid()))
        .arg(uuid(filter.site, |id| id.as_uuid()))
}

/// Binds `$1`–`$3` of [`client_visible!`] and [`user_visible!`].
pub(crate) fn bind_clients<'q, B: Binder<'q>>(query: B, scope: &TenantScope) -> B {
    let filter = scope.filter();
    bind_partners(query, scope).arg(uuid(filter.client, |id| id.as_uuid()))
}

/// Binds `$1`–`$2` of [`partner_visible!`].
pub(crate) fn bind_partners<'q, B: Binder<'q>>(query: B, scope: &TenantScope) -> B {
    let filter = scope.filter();
    query
        .arg(filter.platform)
        .arg(uuid(filter.partner, |id| id.as_uuid()))
}

/// `NotFound` site unless `site` is visible: lets a listing tell "not
/// yours" from "empty".
pub(crate) async fn require_site(
    pool: &sqlx::Pool<Db>,
    scope: &TenantScope,
    site: osiris_core::SiteId,
) -> osiris_store::Result<()> {
    let query = sqlx::query_scalar::<_, i64>(concat!(
        "SELECT CAST(1 AS BIGINT) WHERE ",
        site_visible!("$6")
    ));
    bind_sites(query, scope)
        .bind(site.as_uuid())
        .fetch_optional(pool)
        .await
        .map_err(crate::db::backend("checking a site"))?
        .map(|_| ())
        .ok_or_else(|| osiris_store::Error::not_found("site", site))
}

/// `NotFound` appliance unless `appliance` is visible.
pub(crate) async fn require_appliance(
    pool: &sqlx::Pool<Db>,
    scope: &TenantScope,
    appliance: osiris_core::ApplianceId,
) -> osiris_store::Result<()> {
    let query = sqlx::query_scalar::<_, i64>(concat!(
        "SELECT CAST(1 AS BIGINT) FROM appliances WHERE id = $6 AND ",
        site_visible!("site_id")
    ));
    bind_sites(query, scope)
        .bind(appliance.as_uuid())
        .fetch_optional(pool)
        .await
        .map_err(crate::db::backend("checking an appliance"))?
        .map(|_| ())
        .ok_or_else(|| osiris_store::Error::not_found("appliance", appliance))
}
