//! Writing a site's evidence as `osiris.export.v1`, for the API and for
//! `osiris evidence export`: per appliance, the bundles exactly as stored in
//! the WORM store (read page by page from the index, never all in memory),
//! the server's checkpoints within the exported seq range (one signed at
//! its last seq when none is stored there), each chain's Merkle root and
//! every bundle's inclusion proof, and the manifest signed by the server
//! key ([`osiris_evidence::ExportWriter`]).
//!
//! A bundle whose WORM object is missing or altered is left out and logged:
//! the export then shows the gap, and `osiris evidence verify` names it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use osiris_core::{ApplianceId, SiteId};
use osiris_evidence::{
    ApplianceExport, Checkpoint, ExportFormat, ExportWriter, Progress, PublicKey,
};
use osiris_store::TenantScope;
use osiris_worm::ObjectKey;
use tokio::sync::mpsc;

use crate::checkpoints::{Signer, checkpoint_at, from_entry};
use crate::error::ApiError;

/// Index entries read per page.
const PAGE: u32 = 1000;
/// Bundles buffered between the reader and the writer.
const BUFFERED: usize = 1024;

/// What to export.
#[derive(Debug, Clone, Copy)]
pub struct ExportRequest {
    /// The site.
    pub site: SiteId,
    /// Bundles created at or after this instant…
    pub from: DateTime<Utc>,
    /// …and before this one.
    pub to: DateTime<Utc>,
    /// A directory or a `.tar.gz`.
    pub format: ExportFormat,
}

/// Why an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The site is missing or outside the caller's scope.
    #[error("site {0} not found")]
    SiteNotFound(SiteId),
    /// The database failed.
    #[error("database")]
    Store(#[from] osiris_store::Error),
    /// Writing the export failed.
    #[error("writing the export")]
    Write(#[from] osiris_evidence::Error),
    /// A checkpoint could not be signed or stored.
    #[error("signing a checkpoint of appliance {0} (the log has the cause)")]
    Checkpoint(ApplianceId),
    /// A stored public key is unusable.
    #[error("appliance {0}: stored public key is unusable")]
    PublicKey(ApplianceId),
    /// The server's database, keys or evidence store could not be opened.
    #[error("opening the server's data")]
    Open(#[source] crate::Error),
    /// The writer thread stopped unexpectedly.
    #[error("the export writer stopped: {0}")]
    Writer(String),
}

impl From<ExportError> for ApiError {
    fn from(error: ExportError) -> Self {
        match error {
            ExportError::SiteNotFound(_) => Self::not_found("site"),
            ExportError::Store(store) => store.into(),
            other => Self::internal(&other),
        }
    }
}

enum Item {
    Start(Box<(ApplianceId, PublicKey, Vec<Checkpoint>)>),
    Bundle(Vec<u8>),
    End,
}

struct Chain {
    id: ApplianceId,
    key: PublicKey,
    first: u64,
    last: u64,
}

/// Writes the export of `request` to `out` (which must not exist) as
/// `scope` sees the site.
///
/// # Errors
/// [`ExportError`]; nothing is left at `out` then.
pub async fn write_export(
    signer: &Signer,
    scope: &TenantScope,
    request: ExportRequest,
    out: &Path,
    progress: &dyn Progress,
) -> Result<PathBuf, ExportError> {
    let store = &signer.store;
    match store.get_site(scope, request.site).await {
        Ok(_) => {}
        Err(osiris_store::Error::NotFound { .. }) => {
            return Err(ExportError::SiteNotFound(request.site));
        }
        Err(other) => return Err(other.into()),
    }
    let mut appliances: Vec<_> = store
        .list_appliances(scope)
        .await?
        .into_iter()
        .filter(|appliance| appliance.site_id == request.site)
        .collect();
    appliances.sort_by_key(|appliance| appliance.id);
    let mut chains = Vec::new();
    for appliance in appliances {
        let Some((first, last)) = store
            .evidence_span(scope, appliance.id, request.from, request.to)
            .await?
        else {
            continue;
        };
        let key = appliance
            .public_key
            .as_ref()
            .and_then(|key| PublicKey::from_base64(&STANDARD.encode(key.as_bytes())).ok())
            .ok_or(ExportError::PublicKey(appliance.id))?;
        chains.push(Chain {
            id: appliance.id,
            key,
            first,
            last,
        });
    }
    progress.start(chains.iter().map(|c| c.last - c.first + 1).sum());

    let (tx, mut rx) = mpsc::channel::<Item>(BUFFERED);
    let server_key = Arc::clone(&signer.server_key);
    let (out_path, format, now) = (out.to_owned(), request.format, signer.now);
    let writer = tokio::task::spawn_blocking(move || -> Result<PathBuf, ExportError> {
        let mut writer = ExportWriter::create(
            &out_path,
            format,
            request.site,
            (request.from, request.to),
            now,
            &server_key,
        )?
        .with_proofs()?;
        while let Some(item) = rx.blocking_recv() {
            let Item::Start(start) = item else {
                return Err(ExportError::Writer("bundle outside a chain".into()));
            };
            let (appliance_id, public_key, checkpoints) = *start;
            let mut complete = false;
            let bundles = std::iter::from_fn(|| match rx.blocking_recv() {
                Some(Item::Bundle(bytes)) => Some(bytes),
                Some(Item::End) => {
                    complete = true;
                    None
                }
                _ => None,
            });
            writer.add_appliance(ApplianceExport {
                appliance_id,
                public_key: &public_key,
                bundles,
                checkpoints: &checkpoints,
            })?;
            if !complete {
                return Err(ExportError::Writer(format!(
                    "chain of appliance {appliance_id} ended early"
                )));
            }
        }
        Ok(writer.finish()?)
    });

    let fed = feed(signer, scope, &chains, &tx, progress).await;
    drop(tx);
    let written = writer
        .await
        .map_err(|error| ExportError::Writer(error.to_string()))?;
    // The reader's error is the cause when both failed.
    fed?;
    written
}

async fn feed(
    signer: &Signer,
    scope: &TenantScope,
    chains: &[Chain],
    tx: &mpsc::Sender<Item>,
    progress: &dyn Progress,
) -> Result<(), ExportError> {
    let closed = || ExportError::Writer("the writer stopped early".into());
    for chain in chains {
        let mut checkpoints: Vec<Checkpoint> = signer
            .store
            .list_checkpoints(scope, chain.id, chain.first, chain.last)
            .await?
            .iter()
            .map(from_entry)
            .collect();
        if checkpoints.last().map(Checkpoint::seq) != Some(chain.last) {
            let head = signer
                .store
                .list_evidence(scope, chain.id, chain.last - 1, 1)
                .await?
                .into_iter()
                .next()
                .ok_or(ExportError::Checkpoint(chain.id))?;
            checkpoints.push(
                checkpoint_at(signer, scope, &head)
                    .await
                    .map_err(|_| ExportError::Checkpoint(chain.id))?,
            );
        }
        tx.send(Item::Start(Box::new((chain.id, chain.key, checkpoints))))
            .await
            .map_err(|_| closed())?;
        let mut after = chain.first - 1;
        while after < chain.last {
            let page = signer
                .store
                .list_evidence(scope, chain.id, after, PAGE)
                .await?;
            let Some(last_entry) = page.last() else { break };
            after = last_entry.seq;
            for entry in page.into_iter().take_while(|e| e.seq <= chain.last) {
                let bytes = match ObjectKey::parse(&entry.object_key) {
                    Ok(key) => signer.worm.get(&key).await.map_err(|e| e.to_string()),
                    Err(error) => Err(error.to_string()),
                };
                match bytes {
                    Ok(bytes) => tx.send(Item::Bundle(bytes)).await.map_err(|_| closed())?,
                    Err(error) => tracing::error!(
                        appliance = %chain.id,
                        seq = entry.seq,
                        %error,
                        "indexed bundle unreadable in the WORM store; left out of the export"
                    ),
                }
                progress.advance(1);
            }
        }
        tx.send(Item::End).await.map_err(|_| closed())?;
    }
    Ok(())
}

/// `osiris evidence export`: the export written offline from the server's
/// own database, evidence store and signing key, as the platform sees the
/// site (checkpoints it signs are signed at `now` and stored, as the
/// running server would).
///
/// # Errors
/// [`ExportError`] naming what failed; nothing is left at `out` then.
pub async fn export_offline(
    config: &crate::ServerConfig,
    now: DateTime<Utc>,
    request: ExportRequest,
    out: &Path,
    progress: &dyn Progress,
) -> Result<PathBuf, ExportError> {
    let store = crate::open_store(config).await.map_err(ExportError::Open)?;
    let key_path = config.data_dir.join("server-signing.pem");
    let server_key = osiris_evidence::KeyPair::load(&key_path)
        .map_err(|error| ExportError::Open(crate::Error::Key(error)))?;
    let worm = crate::open_evidence_store(config)
        .await
        .map_err(ExportError::Open)?;
    let signer = Signer {
        store,
        worm,
        server_key: Arc::new(server_key),
        now,
        retention: chrono::Duration::days(i64::from(config.evidence.retention_days)),
    };
    write_export(&signer, &TenantScope::platform(), request, out, progress).await
}
