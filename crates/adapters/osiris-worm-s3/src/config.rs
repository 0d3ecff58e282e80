//! Where the bucket is and how to sign for it.

use aws_sdk_s3::config::{BehaviorVersion, Credentials, Region, RequestChecksumCalculation};
use aws_smithy_http_client::tls;
use osiris_core::Secret;

/// The S3 store's settings.
#[derive(Debug)]
pub struct S3Config {
    /// A non-AWS endpoint such as `http://127.0.0.1:5055`; `None` for AWS.
    pub endpoint_url: Option<String>,
    /// The bucket's region (`us-east-1` for most S3-compatible servers).
    pub region: String,
    /// The bucket, created with Object Lock enabled.
    pub bucket: String,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: Secret<String>,
    /// Address the bucket in the path (`endpoint/bucket/key`) rather than
    /// the host name, as S3-compatible servers need.
    pub force_path_style: bool,
}

/// The SDK configuration for `config`, as a builder so that callers (and
/// tests) can add interceptors before building the client.
#[must_use]
pub fn client_config(config: &S3Config) -> aws_sdk_s3::config::Builder {
    // rustls on ring, the provider the rest of the workspace uses; the
    // same connector speaks plain HTTP to loopback test servers.
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let credentials = Credentials::new(
        config.access_key_id.clone(),
        config.secret_access_key.expose().clone(),
        None,
        None,
        "osiris-config",
    );
    let mut builder = aws_sdk_s3::config::Builder::new()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http_client)
        .region(Region::new(config.region.clone()))
        .credentials_provider(credentials)
        .force_path_style(config.force_path_style)
        // Optional CRC32 headers are left out because some S3-compatible
        // servers reject them; the Object Lock PUT names its own SHA-256.
        .request_checksum_calculation(RequestChecksumCalculation::WhenRequired);
    if let Some(endpoint) = &config.endpoint_url {
        builder = builder.endpoint_url(endpoint.clone());
    }
    builder
}
