//! HTTPS round trips against `serve_tls`: trusted and untrusted clients,
//! curl, plaintext on the TLS port, silent clients, client certificates,
//! graceful shutdown.

use std::time::Duration;

use osiris_tls::{Fingerprint, ServeOptions, TlsMaterial};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

use crate::support::{
    Server, client, client_config_with_cert, public_roots, reqwest_client, roots_from, serve,
};

// The server's certificate must be valid for the machine's clock here, as
// reqwest and curl check it against that clock: pass the real time.
#[expect(
    clippy::disallowed_methods,
    reason = "clients check certificates against the real clock"
)]
fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
}

async fn started(options: ServeOptions) -> (TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let material = TlsMaterial::load_or_create(dir.path(), &[], now()).unwrap();
    let server = serve(material.server_config().unwrap(), options).await;
    (dir, server)
}

#[tokio::test]
async fn a_client_trusting_only_the_generated_ca_gets_an_answer() {
    let (dir, server) = started(ServeOptions::default()).await;
    let client = client(roots_from(&dir.path().join("ca.pem")), server.addr);
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "hello");
    server.stop().await;
}

#[tokio::test]
async fn a_client_without_the_ca_is_refused() {
    let (_dir, server) = started(ServeOptions::default()).await;
    let client = client(public_roots(), server.addr);
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert!(format!("{err:?}").contains("UnknownIssuer"), "{err:?}");
    server.stop().await;
}

#[tokio::test]
async fn curl_trusting_the_ca_file_gets_an_answer_and_without_it_is_refused() {
    let (dir, server) = started(ServeOptions::default()).await;
    let resolve = format!("localhost:{}:127.0.0.1", server.addr.port());
    let ca = dir.path().join("ca.pem");
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--resolve",
            &resolve,
        ])
        .arg("--cacert")
        .arg(&ca)
        .arg(server.url("/"))
        .output()
        .await
        .expect("curl must be installed for this test");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, b"hello");

    // Another CA: curl's own verification refuses (exit 60).
    let unrelated = dir.path().join("unrelated.pem");
    std::fs::write(&unrelated, unrelated_ca_pem()).unwrap();
    let out = Command::new("curl")
        .args([
            "--silent",
            "--show-error",
            "--max-time",
            "10",
            "--resolve",
            &resolve,
        ])
        .arg("--cacert")
        .arg(&unrelated)
        .arg(server.url("/"))
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(60),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.stop().await;
}

fn unrelated_ca_pem() -> String {
    test_ca("Unrelated CA").pem()
}

#[tokio::test]
async fn plaintext_http_on_the_tls_port_is_dropped_and_the_server_carries_on() {
    let (dir, server) = started(ServeOptions::default()).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer))
        .await
        .expect("the server must close a plaintext connection")
        .ok();
    assert!(!answer.starts_with(b"HTTP/1.1 200"), "{answer:?}");

    let client = client(roots_from(&dir.path().join("ca.pem")), server.addr);
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "hello");
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_never_starts_the_handshake_is_dropped_after_the_timeout() {
    let options = ServeOptions {
        handshake_timeout: Duration::from_millis(200),
        ..ServeOptions::default()
    };
    let (_dir, server) = started(options).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read(&mut buf))
        .await
        .expect("the server must drop a silent client");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    server.stop().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_the_request_in_flight_then_stops_accepting() {
    let (dir, server) = started(ServeOptions::default()).await;
    let client = client(roots_from(&dir.path().join("ca.pem")), server.addr);
    let addr = server.addr;
    let in_flight = tokio::spawn({
        let client = client.clone();
        let url = server.url("/slow");
        async move { client.get(url).send().await?.text().await }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.stop().await;
    assert_eq!(in_flight.await.unwrap().unwrap(), "slow");
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn a_verified_client_certificate_reaches_the_handler_and_its_absence_too() {
    let dir = tempfile::tempdir().unwrap();
    let material = TlsMaterial::load_or_create(dir.path(), &[], now()).unwrap();
    let client_ca = test_ca("Appliance CA");
    let (leaf, leaf_key) = client_certificate(&client_ca);
    let config = material
        .server_config_with_client_certificates(&[client_ca.der().clone()])
        .unwrap();
    let server = serve(config, ServeOptions::default()).await;
    let roots = || roots_from(&dir.path().join("ca.pem"));

    let with_cert = reqwest_client(
        client_config_with_cert(roots(), vec![leaf.clone()], leaf_key),
        server.addr,
    );
    let body = with_cert.get(server.url("/peer")).send().await.unwrap();
    assert_eq!(
        body.text().await.unwrap(),
        Fingerprint::of(&leaf).to_string()
    );

    let without = client(roots(), server.addr);
    let body = without.get(server.url("/peer")).send().await.unwrap();
    assert_eq!(body.text().await.unwrap(), "none");

    // A certificate from a CA the server does not trust fails the handshake.
    let stranger_ca = test_ca("Stranger CA");
    let (stranger, stranger_key) = client_certificate(&stranger_ca);
    let refused = reqwest_client(
        client_config_with_cert(roots(), vec![stranger], stranger_key),
        server.addr,
    );
    assert!(refused.get(server.url("/peer")).send().await.is_err());
    server.stop().await;
}

fn test_ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn client_certificate(
    ca: &CertifiedIssuer<'static, KeyPair>,
) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::CommonName, "appliance-1");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, ca).unwrap();
    (
        cert.der().clone(),
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
}
