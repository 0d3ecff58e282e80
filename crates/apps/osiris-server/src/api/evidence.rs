//! Evidence: the index of accepted bundles and their exact stored bytes,
//! for every role including auditors (within their granted sites).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, BundleId, SiteId};
use osiris_store::EvidenceEntry;
use osiris_worm::ObjectKey;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::{ANYONE, Caller, STAFF};
use crate::error::{ApiError, ApiResult};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::state::AppState;

/// Entries per page unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 100;
/// The largest page.
const MAX_LIMIT: u32 = 1000;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_evidence))
        .routes(routes!(get_evidence))
        .routes(routes!(get_evidence_raw))
        .routes(routes!(create_checkpoint))
        .routes(routes!(export_site))
}

/// One accepted bundle, as indexed.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EvidenceView {
    #[schema(value_type = String, format = Uuid)]
    bundle_id: BundleId,
    #[schema(value_type = String, format = Uuid)]
    appliance_id: ApplianceId,
    #[schema(value_type = String, format = Uuid)]
    site_id: SiteId,
    /// Its position in the appliance's chain.
    seq: u64,
    /// Lowercase hex SHA-256 of its canonical bytes.
    chain_hash: String,
    /// `check`, `remediation`, `escalation`, `order`, `rule_change` or `waiver`.
    kind: String,
    outcome: String,
    /// When the appliance created it.
    created_at: DateTime<Utc>,
    /// When Central Command accepted it.
    received_at: DateTime<Utc>,
}

impl From<EvidenceEntry> for EvidenceView {
    fn from(entry: EvidenceEntry) -> Self {
        Self {
            bundle_id: entry.bundle_id,
            appliance_id: entry.appliance_id,
            site_id: entry.site_id,
            seq: entry.seq,
            chain_hash: entry.chain_hash.as_str().to_owned(),
            kind: entry.kind.as_str().to_owned(),
            outcome: entry.outcome,
            created_at: entry.created_at,
            received_at: entry.received_at,
        }
    }
}

/// A page of a site's evidence.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EvidenceQuery {
    /// Only this appliance's chain; without it, every appliance of the
    /// site in turn (by id), each from `after_seq`.
    #[param(value_type = Option<String>, format = Uuid)]
    appliance_id: Option<ApplianceId>,
    /// Only entries with a higher seq (0, the default, is from the start).
    after_seq: Option<u64>,
    /// At most this many entries (1 to 1000, default 100).
    limit: Option<u32>,
}

/// A site's evidence, by appliance then ascending seq.
#[utoipa::path(
    get, path = "/api/sites/{site_id}/evidence", tag = "evidence",
    security(("bearer" = []), ("session" = [])),
    params(("site_id" = String, Path, format = Uuid, description = "The site"), EvidenceQuery),
    responses(
        (status = 200, description = "A page of entries", body = [EvidenceView]),
        (status = 404, description = "No such site or appliance visible to the caller", body = crate::error::ErrorBody),
        (status = 422, description = "Invalid limit", body = crate::error::ErrorBody)
    )
)]
async fn list_evidence(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(site_id): AppPath<SiteId>,
    AppQuery(query): AppQuery<EvidenceQuery>,
) -> ApiResult<AppJson<Vec<EvidenceView>>> {
    caller.require(ANYONE)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be 1 to 1000"));
    }
    let after_seq = query.after_seq.unwrap_or(0);
    state.store.get_site(&caller.scope, site_id).await?;
    let appliances: Vec<ApplianceId> = match query.appliance_id {
        Some(id) => {
            let appliance = state.store.get_appliance(&caller.scope, id).await?;
            if appliance.site_id != site_id {
                return Err(ApiError::not_found("appliance"));
            }
            vec![id]
        }
        None => {
            let mut ids: Vec<ApplianceId> = state
                .store
                .list_appliances(&caller.scope)
                .await?
                .into_iter()
                .filter(|appliance| appliance.site_id == site_id)
                .map(|appliance| appliance.id)
                .collect();
            ids.sort();
            ids
        }
    };
    let mut entries = Vec::new();
    for appliance in appliances {
        let remaining = limit.saturating_sub(u32::try_from(entries.len()).unwrap_or(u32::MAX));
        if remaining == 0 {
            break;
        }
        entries.extend(
            state
                .store
                .list_evidence(&caller.scope, appliance, after_seq, remaining)
                .await?
                .into_iter()
                .map(EvidenceView::from),
        );
    }
    Ok(AppJson(entries))
}

/// One bundle's index entry.
#[utoipa::path(
    get, path = "/api/evidence/{bundle_id}", tag = "evidence",
    security(("bearer" = []), ("session" = [])),
    params(("bundle_id" = String, Path, format = Uuid, description = "The bundle")),
    responses(
        (status = 200, description = "The entry", body = EvidenceView),
        (status = 404, description = "No such bundle visible to the caller", body = crate::error::ErrorBody)
    )
)]
async fn get_evidence(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(bundle_id): AppPath<BundleId>,
) -> ApiResult<AppJson<EvidenceView>> {
    caller.require(ANYONE)?;
    let entry = state.store.get_evidence(&caller.scope, bundle_id).await?;
    Ok(AppJson(entry.into()))
}

/// The bundle's exact bytes as the appliance signed and sent them, read
/// from the WORM store and checked against the hash recorded there.
#[utoipa::path(
    get, path = "/api/evidence/{bundle_id}/raw", tag = "evidence",
    security(("bearer" = []), ("session" = [])),
    params(("bundle_id" = String, Path, format = Uuid, description = "The bundle")),
    responses(
        (status = 200, description = "The canonical bundle bytes", content_type = "application/json", body = Object),
        (status = 404, description = "No such bundle visible to the caller", body = crate::error::ErrorBody)
    )
)]
async fn get_evidence_raw(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(bundle_id): AppPath<BundleId>,
) -> ApiResult<Response> {
    caller.require(ANYONE)?;
    let entry = state.store.get_evidence(&caller.scope, bundle_id).await?;
    let key = ObjectKey::parse(&entry.object_key).map_err(|error| ApiError::internal(&error))?;
    // A missing or altered object behind an index entry is a fault of the
    // server, never the client's: a 500 whose cause is logged.
    let bytes = state
        .evidence
        .get(&key)
        .await
        .map_err(|error| ApiError::internal(&error))?;
    let mut response = Response::new(Body::from(bytes));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// A server checkpoint as signed (`checkpoints/<appliance_id>.json` of
/// `osiris.export.v1`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CheckpointView {
    #[schema(value_type = String, format = Uuid)]
    appliance_id: ApplianceId,
    /// The seq the chain had reached.
    seq: u64,
    /// The chain hash at that seq.
    head_hash: String,
    /// When the server signed it (RFC 3339 UTC, milliseconds).
    signed_at: String,
    /// Base64 Ed25519 signature by the server key over the canonical bytes
    /// of the statement without `signature`.
    signature: String,
}

/// Signs a checkpoint of the appliance's chain at its current head now (or
/// returns the stored one when the head has not moved since).
#[utoipa::path(
    post, path = "/api/appliances/{appliance_id}/checkpoint", tag = "evidence",
    security(("bearer" = []), ("session" = [])),
    params(("appliance_id" = String, Path, format = Uuid, description = "The appliance")),
    responses(
        (status = 200, description = "The checkpoint at the chain's head", body = CheckpointView),
        (status = 403, description = "Only admins and operators sign checkpoints", body = crate::error::ErrorBody),
        (status = 404, description = "No such appliance, or no evidence yet", body = crate::error::ErrorBody)
    )
)]
async fn create_checkpoint(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(appliance_id): AppPath<ApplianceId>,
) -> ApiResult<AppJson<CheckpointView>> {
    caller.require(STAFF)?;
    let checkpoint =
        crate::checkpoints::checkpoint_head(&state.signer(), &caller.scope, appliance_id)
            .await?
            .ok_or_else(|| ApiError::not_found("evidence"))?;
    let head_hash = checkpoint
        .head_hash()
        .map(|hash| hash.to_string())
        .unwrap_or_default();
    Ok(AppJson(CheckpointView {
        appliance_id: checkpoint.appliance_id(),
        seq: checkpoint.seq(),
        head_hash,
        signed_at: checkpoint.signed_at().to_owned(),
        signature: checkpoint.signature().to_owned(),
    }))
}

/// The range of an export.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ExportQuery {
    /// Bundles created at or after this instant (RFC 3339); default: all.
    from: Option<DateTime<Utc>>,
    /// Bundles created before this instant (RFC 3339); default: everything
    /// until now.
    to: Option<DateTime<Utc>>,
}

/// The site's evidence as an `osiris.export.v1` `.tar.gz`: bundles exactly
/// as stored, the server's checkpoints and the manifest signed by the
/// server key, for `osiris evidence verify`.
#[utoipa::path(
    get, path = "/api/sites/{site_id}/evidence/export", tag = "evidence",
    security(("bearer" = []), ("session" = [])),
    params(("site_id" = String, Path, format = Uuid, description = "The site"), ExportQuery),
    responses(
        (status = 200, description = "The export archive", content_type = "application/gzip", body = Vec<u8>),
        (status = 404, description = "No such site visible to the caller", body = crate::error::ErrorBody),
        (status = 422, description = "from is not before to", body = crate::error::ErrorBody)
    )
)]
async fn export_site(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(site_id): AppPath<SiteId>,
    AppQuery(query): AppQuery<ExportQuery>,
) -> ApiResult<Response> {
    caller.require(ANYONE)?;
    let signer = state.signer();
    let from = query.from.unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    let to = query
        .to
        .unwrap_or_else(|| signer.now + chrono::Duration::milliseconds(1));
    if from >= to {
        return Err(ApiError::invalid("from", "must be before to"));
    }
    let staging = tempfile::Builder::new()
        .prefix("osiris-export-")
        .tempdir()
        .map_err(|error| ApiError::internal(&error))?;
    let name = format!("osiris-export-{site_id}.tar.gz");
    let out = staging.path().join(&name);
    crate::export::write_export(
        &signer,
        &caller.scope,
        crate::export::ExportRequest {
            site: site_id,
            from,
            to,
            format: osiris_evidence::ExportFormat::TarGz,
        },
        &out,
        &osiris_evidence::verify::NoProgress,
    )
    .await?;
    let file = tokio::fs::File::open(&out)
        .await
        .map_err(|error| ApiError::internal(&error))?;
    // The open file stays readable after its directory is removed.
    drop(staging);
    let mut response = Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(file)));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/gzip"),
    );
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}
