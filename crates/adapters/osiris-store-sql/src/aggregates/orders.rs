//! Orders and their states.

use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, OrderId, RunbookId, SiteId, UserId};
use osiris_store::{
    BoxFuture, Error, NewOrder, Order, OrderFilter, OrderOutcome, OrderState, OrderStore,
    TenantScope,
};
use uuid::Uuid;

use super::Store;
use super::scope::{bind_sites, require_appliance, site_visible};
use crate::db::{backend, parse};

macro_rules! order_columns {
    () => {
        "id, appliance_id, site_id, runbook_id, params, target, nonce, issued_at, expires_at,
         state, delivered_at, completed_at, result_detail, created_by"
    };
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: Uuid,
    appliance_id: Uuid,
    site_id: Uuid,
    runbook_id: String,
    params: String,
    target: Option<String>,
    nonce: String,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    state: String,
    delivered_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    result_detail: Option<String>,
    created_by: Option<Uuid>,
}

impl TryFrom<OrderRow> for Order {
    type Error = Error;
    fn try_from(row: OrderRow) -> Result<Self, Error> {
        Ok(Self {
            id: OrderId::from_uuid(row.id),
            appliance_id: ApplianceId::from_uuid(row.appliance_id),
            site_id: SiteId::from_uuid(row.site_id),
            runbook_id: row
                .runbook_id
                .parse::<RunbookId>()
                .map_err(|error| Error::corrupt("orders", "runbook_id", error))?,
            params: serde_json::from_str(&row.params)
                .map_err(|error| Error::corrupt("orders", "params", error))?,
            target: row.target,
            nonce: row.nonce,
            issued_at: row.issued_at,
            expires_at: row.expires_at,
            state: parse(OrderState::parse(&row.state), "orders", "state", &row.state)?,
            delivered_at: row.delivered_at,
            completed_at: row.completed_at,
            result_detail: row.result_detail,
            created_by: row.created_by.map(UserId::from_uuid),
        })
    }
}

fn orders(rows: Vec<OrderRow>) -> Result<Vec<Order>, Error> {
    rows.into_iter().map(Order::try_from).collect()
}

impl OrderStore for Store {
    fn create_order<'a>(
        &'a self,
        scope: &'a TenantScope,
        order: &'a NewOrder,
    ) -> BoxFuture<'a, Order> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, OrderRow>(concat!(
                "INSERT INTO orders (id, appliance_id, site_id, runbook_id, params, nonce, issued_at,
                    expires_at, state, created_by, target)
                 SELECT $6, a.id, a.site_id, $8, $9, $10, $11, $12, 'pending', $13, $14
                 FROM appliances a
                 WHERE a.id = $7 AND ",
                site_visible!("a.site_id"),
                " RETURNING ",
                order_columns!()
            ));
            bind_sites(query, scope)
                .bind(order.id.as_uuid())
                .bind(order.appliance_id.as_uuid())
                .bind(order.runbook_id.as_str())
                .bind(order.params.to_string())
                .bind(order.nonce.as_str())
                .bind(order.issued_at)
                .bind(order.expires_at)
                .bind(order.created_by.as_ref().map(|id| *id.as_uuid()))
                .bind(order.target.as_deref())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("creating an order"))?
                .ok_or_else(|| Error::not_found("appliance", order.appliance_id))?
                .try_into()
        })
    }

    fn take_undelivered_orders<'a>(
        &'a self,
        scope: &'a TenantScope,
        appliance: ApplianceId,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Vec<Order>> {
        Box::pin(async move {
            require_appliance(&self.pool, scope, appliance).await?;
            let mut rows = sqlx::query_as::<_, OrderRow>(concat!(
                "UPDATE orders SET delivered_at = $2
                 WHERE appliance_id = $1 AND state = 'pending' AND delivered_at IS NULL
                   AND expires_at > $2
                 RETURNING ",
                order_columns!()
            ))
            .bind(appliance.as_uuid())
            .bind(now)
            .fetch_all(&self.pool)
            .await
            .map_err(backend("taking undelivered orders"))?;
            // RETURNING has no ORDER BY: issue order is restored here.
            rows.sort_by(|a, b| a.issued_at.cmp(&b.issued_at).then(a.id.cmp(&b.id)));
            orders(rows)
        })
    }

    fn record_order_result<'a>(
        &'a self,
        scope: &'a TenantScope,
        id: OrderId,
        outcome: OrderOutcome,
        detail: &'a str,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, Order> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, OrderRow>(concat!(
                "UPDATE orders SET state = $7, result_detail = $8, completed_at = $9
                 WHERE id = $6 AND state = 'pending' AND ",
                site_visible!("site_id"),
                " RETURNING ",
                order_columns!()
            ));
            let updated = bind_sites(query, scope)
                .bind(id.as_uuid())
                .bind(outcome.state().as_str())
                .bind(detail)
                .bind(now)
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("recording an order result"))?;
            match updated {
                Some(row) => row.try_into(),
                None => {
                    let current = self.get_order(scope, id).await?;
                    Err(Error::IllegalTransition {
                        entity: "order",
                        id: id.to_string(),
                        from: current.state.to_string(),
                        to: outcome.state().to_string(),
                    })
                }
            }
        })
    }

    fn expire_orders<'a>(
        &'a self,
        scope: &'a TenantScope,
        now: DateTime<Utc>,
    ) -> BoxFuture<'a, u64> {
        Box::pin(async move {
            let query = sqlx::query(concat!(
                "UPDATE orders SET state = 'expired', completed_at = $6
                 WHERE state = 'pending' AND expires_at <= $6 AND ",
                site_visible!("site_id")
            ));
            let expired = bind_sites(query, scope)
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(backend("expiring orders"))?;
            Ok(expired.rows_affected())
        })
    }

    fn get_order<'a>(&'a self, scope: &'a TenantScope, id: OrderId) -> BoxFuture<'a, Order> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, OrderRow>(concat!(
                "SELECT ",
                order_columns!(),
                " FROM orders WHERE id = $6 AND ",
                site_visible!("site_id")
            ));
            bind_sites(query, scope)
                .bind(id.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .map_err(backend("reading an order"))?
                .ok_or_else(|| Error::not_found("order", id))?
                .try_into()
        })
    }

    fn list_orders<'a>(
        &'a self,
        scope: &'a TenantScope,
        filter: OrderFilter,
    ) -> BoxFuture<'a, Vec<Order>> {
        Box::pin(async move {
            let query = sqlx::query_as::<_, OrderRow>(concat!(
                "SELECT ",
                order_columns!(),
                " FROM orders WHERE ($6 IS NULL OR state = $6) AND ($7 IS NULL OR site_id = $7) AND ",
                site_visible!("site_id"),
                " ORDER BY issued_at DESC, id"
            ));
            let rows = bind_sites(query, scope)
                .bind(filter.state.map(OrderState::as_str))
                .bind(filter.site.as_ref().map(|id| *id.as_uuid()))
                .fetch_all(&self.pool)
                .await
                .map_err(backend("listing orders"))?;
            orders(rows)
        })
    }
}
