//! Running the same scripts on many hosts: one session and one shell per
//! host for the whole sweep, hosts in parallel up to a bound.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::{Error, Result};
use crate::session::{CommandOutput, Credentials, Session, SessionOptions};

/// What one host returned: per script, its output or why it failed.
/// A connection or authentication failure fails every script of the host.
#[derive(Debug)]
pub struct HostSweep {
    /// The endpoint URL swept.
    pub url: String,
    /// One entry per script, in the order given.
    pub results: Vec<Result<CommandOutput>>,
}

/// Runs `scripts` (PowerShell) on every endpoint, at most `concurrency`
/// hosts at a time, reusing one shell per host. Results come back in the
/// order of `urls`.
#[must_use = "the sweep results carry each host's errors"]
pub async fn sweep(
    urls: &[String],
    credentials: &Credentials,
    options: &SessionOptions,
    scripts: &[String],
    concurrency: usize,
) -> Vec<HostSweep> {
    let permits = Arc::new(Semaphore::new(concurrency.max(1)));
    let scripts: Arc<[String]> = scripts.into();
    let mut tasks = JoinSet::new();
    for (index, url) in urls.iter().enumerate() {
        let (permits, scripts, url) = (Arc::clone(&permits), Arc::clone(&scripts), url.clone());
        let (credentials, options) = (credentials.clone(), options.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let results = sweep_host(&url, &credentials, options, &scripts).await;
            (index, HostSweep { url, results })
        });
    }
    let mut swept: Vec<Option<HostSweep>> = urls.iter().map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((index, host)) = joined
            && let Some(slot) = swept.get_mut(index)
        {
            *slot = Some(host);
        }
    }
    swept
        .into_iter()
        .zip(urls)
        .map(|(host, url)| {
            host.unwrap_or_else(|| HostSweep {
                url: url.clone(),
                results: scripts
                    .iter()
                    .map(|_| Err(Error::Protocol("sweep task failed".into())))
                    .collect(),
            })
        })
        .collect()
}

async fn sweep_host(
    url: &str,
    credentials: &Credentials,
    options: SessionOptions,
    scripts: &[String],
) -> Vec<Result<CommandOutput>> {
    let opened = async {
        let mut session = Session::connect(url, credentials, options).await?;
        let shell = session.open_shell().await?;
        Ok::<_, Error>((session, shell))
    };
    let (mut session, shell) = match opened.await {
        Ok(opened) => opened,
        Err(error) => {
            let message = error.to_string();
            return scripts
                .iter()
                .map(|_| Err(Error::Protocol(format!("host unreachable: {message}"))))
                .collect();
        }
    };
    let mut results = Vec::with_capacity(scripts.len());
    for script in scripts {
        results.push(session.run_powershell(&shell, script).await);
    }
    // Best effort: a shell that cannot be deleted expires on the server.
    let _ = session.close_shell(shell).await;
    results
}
