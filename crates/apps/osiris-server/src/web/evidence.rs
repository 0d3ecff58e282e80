//! The evidence browser: a site's bundles with filters (`/evidence`), one
//! bundle (`/evidence/{id}`), its exact stored bytes (`…/download`) and a
//! check of it on the server (`…/verify`): its signature by the
//! appliance's key, its link into the chain, and its inclusion in the
//! RFC 6962 Merkle tree of the chain up to the latest checkpoint the
//! server signed. The offline verifier (`osiris evidence verify`) stays
//! the authority for auditors; this page is the operator's quick look.

use std::str::FromStr;

use askama::Template;
use askama_web::WebTemplate;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use osiris_core::{BundleId, SiteId};
use osiris_evidence::merkle;
use osiris_evidence::parse::parse_bundle;
use osiris_store::{EvidenceEntry, EvidenceKind, TenantScope};
use serde::Deserialize;

use super::incidents::Choice;
use super::{Layout, Viewer, WebError, WebResult, format};
use crate::error::ApiError;
use crate::state::AppState;

/// The most entries the list shows.
const MAX_ROWS: usize = 200;
/// The most bundles a verification reads to rebuild the Merkle tree.
const MAX_TREE: u64 = 200_000;
/// A page of the chain read at a time.
const PAGE: u32 = 1000;

/// The filter form's fields; empty means "any" (the first site for `site`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Filters {
    #[serde(default)]
    site: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    days: String,
}

pub(super) struct Row {
    bundle_id: BundleId,
    created_at: String,
    kind: &'static str,
    outcome: String,
    appliance: String,
    seq: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/evidence.html")]
pub(super) struct EvidencePage {
    layout: Layout,
    site: Option<(SiteId, String)>,
    sites: Vec<Choice>,
    kinds: Vec<Choice>,
    outcome: String,
    days: Vec<Choice>,
    rows: Vec<Row>,
    total: usize,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/bundle.html")]
pub(super) struct BundlePage {
    layout: Layout,
    bundle_id: BundleId,
    site_id: SiteId,
    site_name: String,
    appliance: String,
    seq: u64,
    kind: &'static str,
    outcome: String,
    created_at: String,
    received_at: String,
    chain_hash: String,
    size: usize,
    body: String,
}

/// One check of a verification.
pub(super) struct Finding {
    what: &'static str,
    ok: bool,
    detail: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "pages/verify.html")]
pub(super) struct VerifyPage {
    layout: Layout,
    bundle_id: BundleId,
    appliance: String,
    seq: u64,
    verified: bool,
    findings: Vec<Finding>,
    root: String,
    proof: Vec<String>,
    leaf_index: u64,
    tree_size: u64,
}

const KINDS: [&str; 6] = [
    "check",
    "remediation",
    "escalation",
    "order",
    "rule_change",
    "waiver",
];
const DAYS: [&str; 4] = ["1", "7", "30", "365"];

/// `GET /evidence?site=&kind=&outcome=&days=`: the newest bundles of a site.
pub(super) async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    query: Result<Query<Filters>, QueryRejection>,
) -> WebResult<EvidencePage> {
    let Query(filters) = query.map_err(|_| WebError::bad_request("unknown filter"))?;
    let scope = &viewer.caller.scope;
    let sites = state.store.list_sites(scope).await?;
    let site = if filters.site.is_empty() {
        sites.first().map(|s| (s.id, s.name.clone()))
    } else {
        let id = SiteId::from_str(&filters.site).map_err(|_| WebError::not_found())?;
        let site = state.store.get_site(scope, id).await?;
        Some((site.id, site.name))
    };
    let kind = match filters.kind.as_str() {
        "" => None,
        other => {
            Some(EvidenceKind::parse(other).ok_or_else(|| WebError::bad_request("unknown kind"))?)
        }
    };
    let days: i64 = match filters.days.as_str() {
        "" => 30,
        other => other
            .parse()
            .ok()
            .filter(|d| (1..=3660).contains(d))
            .ok_or_else(|| WebError::bad_request("unknown days"))?,
    };
    let outcome = filters.outcome.trim().to_owned();
    let mut entries = Vec::new();
    if let Some((id, _)) = &site {
        let now = state.clock.now();
        entries = state
            .store
            .list_site_evidence(
                scope,
                *id,
                now - Duration::days(days),
                now + Duration::milliseconds(1),
            )
            .await?;
        entries.retain(|e| {
            kind.is_none_or(|k| e.kind == k) && (outcome.is_empty() || e.outcome == outcome)
        });
        entries.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.seq)));
    }
    let appliances = state.store.list_appliances(scope).await?;
    let name_of = |entry: &EvidenceEntry| {
        appliances
            .iter()
            .find(|a| a.id == entry.appliance_id)
            .map_or_else(|| entry.appliance_id.to_string(), |a| a.name.clone())
    };
    let total = entries.len();
    let rows = entries
        .iter()
        .take(MAX_ROWS)
        .map(|e| Row {
            bundle_id: e.bundle_id,
            created_at: format::time(e.created_at),
            kind: e.kind.as_str(),
            outcome: e.outcome.clone(),
            appliance: name_of(e),
            seq: e.seq,
        })
        .collect();
    let current = site.as_ref().map(|(id, _)| *id);
    let days_text = days.to_string();
    Ok(EvidencePage {
        layout: Layout::for_viewer(&viewer, "evidence"),
        sites: sites
            .iter()
            .map(|s| Choice::new(s.id.to_string(), s.name.clone(), current == Some(s.id)))
            .collect(),
        site,
        kinds: KINDS
            .iter()
            .map(|k| Choice::new((*k).to_owned(), (*k).to_owned(), filters.kind == *k))
            .collect(),
        outcome,
        days: DAYS
            .iter()
            .map(|d| Choice::new((*d).to_owned(), format!("{d} days"), days_text == *d))
            .collect(),
        rows,
        total,
    })
}

async fn entry(state: &AppState, scope: &TenantScope, id: &str) -> WebResult<EvidenceEntry> {
    let id = BundleId::from_str(id).map_err(|_| WebError::not_found())?;
    Ok(state.store.get_evidence(scope, id).await?)
}

async fn stored_bytes(state: &AppState, entry: &EvidenceEntry) -> WebResult<Vec<u8>> {
    let key =
        osiris_worm::ObjectKey::parse(&entry.object_key).map_err(|e| ApiError::internal(&e))?;
    let bytes = state
        .evidence
        .get(&key)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok(bytes.to_vec())
}

async fn appliance_name(state: &AppState, scope: &TenantScope, entry: &EvidenceEntry) -> String {
    state
        .store
        .get_appliance(scope, entry.appliance_id)
        .await
        .map_or_else(|_| entry.appliance_id.to_string(), |a| a.name)
}

/// `GET /evidence/{id}`.
pub(super) async fn bundle(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> WebResult<BundlePage> {
    let scope = &viewer.caller.scope;
    let entry = entry(&state, scope, &id).await?;
    let site = state.store.get_site(scope, entry.site_id).await?;
    let bytes = stored_bytes(&state, &entry).await?;
    // Shown pretty-printed for reading; the download is the exact bytes.
    let body = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
    Ok(BundlePage {
        layout: Layout::for_viewer(&viewer, "evidence"),
        bundle_id: entry.bundle_id,
        site_id: site.id,
        site_name: site.name,
        appliance: appliance_name(&state, scope, &entry).await,
        seq: entry.seq,
        kind: entry.kind.as_str(),
        outcome: entry.outcome.clone(),
        created_at: format::time(entry.created_at),
        received_at: format::time(entry.received_at),
        chain_hash: entry.chain_hash.as_str().to_owned(),
        size: bytes.len(),
        body,
    })
}

/// `GET /evidence/{id}/download`: the bundle exactly as the WORM store
/// holds it.
pub(super) async fn download(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let entry = entry(&state, &viewer.caller.scope, &id).await?;
    let bytes = stored_bytes(&state, &entry).await?;
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"bundle-{}-{}.json\"",
        entry.appliance_id, entry.seq
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The chain's bundles from seq 1 to `last`, as Merkle leaves, with the
/// chain hash of the last one.
async fn leaves(
    state: &AppState,
    scope: &TenantScope,
    appliance: osiris_core::ApplianceId,
    last: u64,
) -> WebResult<Vec<merkle::TreeHash>> {
    let mut leaves = Vec::new();
    let mut after = 0;
    while after < last {
        let page = state
            .store
            .list_evidence(scope, appliance, after, PAGE)
            .await?;
        let Some(tail) = page.last() else { break };
        after = tail.seq;
        for entry in page.iter().filter(|e| e.seq <= last) {
            leaves.push(merkle::leaf_hash(&stored_bytes(state, entry).await?));
        }
    }
    Ok(leaves)
}

/// `GET /evidence/{id}/verify`: reads only, so a plain link.
pub(super) async fn verify(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> WebResult<VerifyPage> {
    let scope = &viewer.caller.scope;
    let entry = entry(&state, scope, &id).await?;
    let bytes = stored_bytes(&state, &entry).await?;
    let appliance = state.store.get_appliance(scope, entry.appliance_id).await?;
    let mut findings = Vec::new();
    let mut push = |what, ok, detail: String| findings.push(Finding { what, ok, detail });

    let parsed = parse_bundle(&bytes);
    match &parsed {
        Ok(bundle) => {
            let same = bundle.bundle_id == entry.bundle_id
                && bundle.appliance_id == entry.appliance_id
                && bundle.site_id == entry.site_id
                && bundle.seq == entry.seq;
            push(
                "Index",
                same,
                if same {
                    "the bundle names the id, site, appliance and seq the index has".to_owned()
                } else {
                    "the bundle's id, site, appliance or seq differs from the index".to_owned()
                },
            );
            let key = appliance.public_key.as_ref().and_then(|k| {
                osiris_evidence::PublicKey::from_base64(&STANDARD.encode(k.as_bytes())).ok()
            });
            let signed = key.as_ref().is_some_and(|key| {
                bundle.key_id == key.key_id()
                    && key.verify_strict(&bundle.signed_message, &bundle.signature)
            });
            push(
                "Signature",
                signed,
                if signed {
                    format!(
                        "Ed25519 signature by {}'s key {}",
                        appliance.name, bundle.key_id
                    )
                } else {
                    format!("not a valid signature by {}'s key", appliance.name)
                },
            );
            let hashed = bundle.hash.to_string() == entry.chain_hash.as_str();
            push(
                "Chain hash",
                hashed,
                format!("SHA-256 of the stored bytes is {}", bundle.hash),
            );
            let previous = if entry.seq <= 1 {
                Some(osiris_evidence::ChainHash::GENESIS.to_string())
            } else {
                state
                    .store
                    .list_evidence(scope, entry.appliance_id, entry.seq - 2, 1)
                    .await?
                    .first()
                    .filter(|p| p.seq == entry.seq - 1)
                    .map(|p| p.chain_hash.as_str().to_owned())
            };
            let linked = previous.as_deref() == Some(bundle.prev_hash.to_string().as_str());
            push(
                "Chain link",
                linked,
                if linked {
                    format!("prev_hash is the chain hash of seq {}", entry.seq - 1)
                } else {
                    format!(
                        "prev_hash does not match seq {}",
                        entry.seq.saturating_sub(1)
                    )
                },
            );
        }
        Err(error) => push("Format", false, format!("not a valid bundle: {error}")),
    }

    let (mut root, mut proof_text, mut leaf_index, mut tree_size) =
        (String::new(), Vec::new(), entry.seq.saturating_sub(1), 0);
    match state
        .store
        .latest_checkpoint(scope, entry.appliance_id)
        .await?
    {
        None => push(
            "Checkpoint",
            false,
            "the server has not signed a checkpoint of this chain yet".to_owned(),
        ),
        Some(checkpoint) if checkpoint.seq < entry.seq => push(
            "Checkpoint",
            false,
            format!(
                "the latest checkpoint is at seq {}, before this bundle",
                checkpoint.seq
            ),
        ),
        Some(checkpoint) if checkpoint.seq > MAX_TREE => push(
            "Checkpoint",
            false,
            format!(
                "the chain up to seq {} is too long to rebuild here; use osiris evidence verify-bundle on an export",
                checkpoint.seq
            ),
        ),
        Some(checkpoint) => {
            let statement = crate::checkpoints::from_entry(&checkpoint);
            let signed = statement.is_signed_by(&state.server_key.public_key());
            push(
                "Checkpoint",
                signed,
                format!(
                    "seq {} signed by the server key {} at {}",
                    checkpoint.seq,
                    state.server_key.public_key().key_id(),
                    format::time(checkpoint.signed_at)
                ),
            );
            let leaves = leaves(&state, scope, entry.appliance_id, checkpoint.seq).await?;
            tree_size = u64::try_from(leaves.len()).unwrap_or(0);
            let tree_root = merkle::root(&leaves);
            root = tree_root.to_string();
            let index = usize::try_from(leaf_index).unwrap_or(usize::MAX);
            let included = match merkle::inclusion_proof(&leaves, index) {
                Some(proof) => {
                    proof_text = proof.iter().map(ToString::to_string).collect();
                    tree_size == checkpoint.seq
                        && merkle::verify_inclusion(
                            &merkle::leaf_hash(&bytes),
                            leaf_index,
                            tree_size,
                            &proof,
                            &tree_root,
                        )
                }
                None => false,
            };
            push(
                "Merkle inclusion",
                included,
                format!(
                    "leaf {leaf_index} of {tree_size} under the root of the chain at the checkpoint"
                ),
            );
            // The tree's last leaf is the bundle whose hash the checkpoint signed.
            let head = match state
                .store
                .list_evidence(scope, entry.appliance_id, checkpoint.seq - 1, 1)
                .await?
                .first()
            {
                Some(last) => last.chain_hash == checkpoint.head_hash,
                None => false,
            };
            push(
                "Checkpoint head",
                head,
                format!(
                    "the chain hash at seq {} is the signed head",
                    checkpoint.seq
                ),
            );
        }
    }
    if parsed.is_err() {
        leaf_index = 0;
    }
    let verified = findings.iter().all(|f| f.ok);
    Ok(VerifyPage {
        layout: Layout::for_viewer(&viewer, "evidence"),
        bundle_id: entry.bundle_id,
        appliance: appliance.name,
        seq: entry.seq,
        verified,
        findings,
        root,
        proof: proof_text,
        leaf_index,
        tree_size,
    })
}
