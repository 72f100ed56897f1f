//! `--verify-url https://…` against a local TLS server with certificates this test makes
//! (rcgen): a private CA (`--verify-ca`), SNI and the `Host` header sent with the URL's name
//! while connecting to one address (`--verify-address`, an ALB node), the page's 503 +
//! `Retry-After` + `Cache-Control: no-store` on `on` and the health route's 200. A CA that did
//! not sign the certificate, or a certificate for another name, fails with a clear message —
//! before anything is switched.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Moto;
use common::alb::{self, maintctl, maintctl_blocking, text};
use common::listeners::{aws, priorities};
use maintctl::verify::VerifyTarget;
use maintenance_engine::ops::{Verification, VerifyRequest, verify_live};
use maintenance_engine::planner::{Direction, Live};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HOST: &str = "shop.example.test";

/// A CA made here: its certificate (PEM) and what signs with it.
struct Ca {
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn ca(name: &str) -> Ca {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    let key = KeyPair::generate().unwrap();
    let pem = params.self_signed(&key).unwrap().pem();
    Ca {
        pem,
        issuer: Issuer::new(params, key),
    }
}

/// A server certificate for `names`, signed by `ca`: (certificate PEM, key PEM).
fn server_cert(ca: &Ca, names: &[&str]) -> (String, String) {
    let params =
        CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &ca.issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// What the server saw per request: the TLS server name, the Host header, the path.
type Seen = Arc<Mutex<Vec<(Option<String>, String, String)>>>;

/// A TLS server on loopback answering like the ALB in maintenance: 503 with Retry-After (and
/// `Cache-Control: no-store` when `no_store`) on every path but `/healthz`, which gets 200.
async fn tls_server(cert: &str, key: &str, no_store: bool) -> (u16, Seen) {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, log) = (acceptor.clone(), log.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return; // the client refused the certificate
                };
                let sni = tls.get_ref().1.server_name().map(str::to_string);
                let mut buf = Vec::new();
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    let mut chunk = [0u8; 1024];
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).to_string();
                let path = head.split(' ').nth(1).unwrap_or("").to_string();
                let host = head
                    .lines()
                    .find_map(|l| l.strip_prefix("host: ").or(l.strip_prefix("Host: ")))
                    .unwrap_or("")
                    .to_string();
                log.lock().unwrap().push((sni, host, path.clone()));
                let response = if path == "/healthz" {
                    "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                        .to_string()
                } else {
                    format!(
                        "HTTP/1.1 503 Service Unavailable\r\nretry-after: 120\r\n{}content-length: 0\r\nconnection: close\r\n\r\n",
                        if no_store {
                            "cache-control: no-store\r\n"
                        } else {
                            ""
                        }
                    )
                };
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, seen)
}

/// A [`tls_server`] with a certificate for `names` signed by `ca`: its port, what it saw, and
/// the URL of its page for [`HOST`].
async fn serve(ca: &Ca, names: &[&str], no_store: bool) -> (u16, Seen, String) {
    let (cert, key) = server_cert(ca, names);
    let (port, seen) = tls_server(&cert, &key, no_store).await;
    (port, seen, format!("https://{HOST}:{port}/"))
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn request(url: &str, ca: Option<&Path>, port: u16) -> VerifyRequest {
    let address = format!("127.0.0.1:{port}");
    VerifyRequest {
        target: Arc::new(VerifyTarget::parse_with(url, "/healthz", ca, Some(&address)).unwrap()),
        timeout: Duration::from_secs(3),
    }
}

/// Verifies `url` on the server at `port` (any name resolves there), trusting the CA in `ca`.
async fn verify(url: &str, ca: &Path, port: u16, direction: Direction, live: Live) -> Verification {
    verify_live(&request(url, Some(ca), port), direction, live).await
}

#[tokio::test]
async fn https_with_a_private_ca_verifies_the_page_and_sends_the_real_host_name() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca("maintctl test CA");
    let (port, seen, url) = serve(&ca, &[HOST], true).await;
    let ca_file = write(dir.path(), "ca.pem", &ca.pem);

    let on = verify(&url, &ca_file, port, Direction::On, Live::Responder).await;
    assert!(on.ok, "{on:?}");
    assert_eq!(on.status, Some(503));
    assert_eq!(on.cache_control.as_deref(), Some("no-store"));
    assert_eq!(on.health_status, Some(200));
    assert_eq!(
        on.address.as_deref(),
        Some(format!("127.0.0.1:{port}").as_str())
    );
    for (sni, host, _) in seen.lock().unwrap().iter() {
        assert_eq!(sni.as_deref(), Some(HOST), "SNI is the URL's host");
        assert_eq!(host, &format!("{HOST}:{port}"), "so is the Host header");
    }
    // Still the maintenance page: off does not verify.
    let off = verify(&url, &ca_file, port, Direction::Off, Live::Responder).await;
    assert!(!off.ok, "{off:?}");
    // The fallback page is a 503 with neither header, on every path.
    let fallback = verify(&url, &ca_file, port, Direction::On, Live::Fallback).await;
    assert!(fallback.ok, "{fallback:?}");
}

#[tokio::test]
async fn a_503_without_no_store_is_not_the_responders_page() {
    let dir = tempfile::tempdir().unwrap();
    let ca = ca("maintctl test CA");
    let (port, _, url) = serve(&ca, &[HOST], false).await;
    let ca_file = write(dir.path(), "ca.pem", &ca.pem);
    let on = verify(&url, &ca_file, port, Direction::On, Live::Responder).await;
    assert!(!on.ok, "{on:?}");
    let seen = on.seen(Direction::On, Live::Responder).join("; ");
    assert!(seen.contains("not no-store"), "{seen}");
}

#[tokio::test]
async fn a_wrong_ca_or_name_fails_with_a_clear_message_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ca_right = ca("the CA that signed");
    let ca_wrong = ca("another CA");
    let (port, _, url) = serve(&ca_right, &[HOST], true).await;
    let wrong = write(dir.path(), "wrong.pem", &ca_wrong.pem);
    let v = verify(&url, &wrong, port, Direction::On, Live::Responder).await;
    assert!(!v.ok);
    assert_eq!(
        v.attempts, 1,
        "a certificate does not get trusted by waiting"
    );
    let error = v.error.unwrap();
    assert!(
        error.contains("not trusted")
            && error.contains("UnknownIssuer")
            && error.contains("--verify-ca"),
        "{error}"
    );
    // The right CA, a certificate for another name.
    let (port, _, url) = serve(&ca_right, &["other.example.test"], true).await;
    let right = write(dir.path(), "right.pem", &ca_right.pem);
    let v = verify(&url, &right, port, Direction::On, Live::Responder).await;
    let error = v.error.unwrap();
    assert!(
        error.contains("not trusted") && error.contains(&format!("not for {HOST}")),
        "{error}"
    );
    // A CA file that is not one is refused before anything is tried.
    let junk = write(dir.path(), "junk.pem", "not a certificate");
    let err = VerifyTarget::parse_with(&url, "/healthz", Some(&junk), None).unwrap_err();
    assert!(err.to_string().contains("--verify-ca"), "{err}");
    let err = VerifyTarget::parse_with("http://x/", "/healthz", Some(&right), None).unwrap_err();
    assert!(err.to_string().contains("https://"), "{err}");
    let err = VerifyTarget::parse_with(&url, "/healthz", None, Some("node-1")).unwrap_err();
    assert!(err.to_string().contains("--verify-address"), "{err}");
}

// ------------------------------------------------------------------ through maintctl

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_verifies_over_https_and_a_wrong_ca_changes_nothing() {
    let moto = Moto::shared();
    let alb = alb::build(moto, "https", &[10, 20, 30], 40_000);
    let http = alb.http.clone();
    let env = common::unique("env-https");
    let args = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let attach = maintctl(
        moto,
        &[
            "attach",
            "--listener",
            &http,
            "--target-group",
            &alb.lambda_target_group,
            "--environment",
            &env,
        ],
    );
    assert_eq!(attach.status.code(), Some(0), "{}", text(&attach));

    let dir = tempfile::tempdir().unwrap();
    let ca_right = ca("the CA that signed");
    let (port, _, url) = serve(&ca_right, &[HOST], true).await;
    let right = write(dir.path(), "right.pem", &ca_right.pem);
    let wrong = write(dir.path(), "wrong.pem", &ca("another CA").pem);
    let address = format!("127.0.0.1:{port}");
    let on = |ca: &Path| {
        // maintctl forces on: the emulator has no responder for the preflight
        // (tests/switching/doctor.rs).
        args(&[
            "on",
            "--environment",
            &env,
            "--yes",
            "--verify-url",
            &url,
            "--verify-ca",
            ca.to_str().unwrap(),
            "--verify-address",
            &address,
            "--verify-timeout",
            "5",
        ])
    };
    let client = aws(moto).await;
    let before = priorities(&client, &http).await;
    let refused = maintctl_blocking(on(&wrong)).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("not trusted")
            && stderr.contains("--verify-ca")
            && stderr.contains("nothing was changed"),
        "{}",
        text(&refused)
    );
    assert_eq!(
        priorities(&client, &http).await,
        before,
        "nothing was switched"
    );

    let verified = maintctl_blocking(on(&right)).await;
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified));
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(
        stdout.contains("verified") && stdout.contains("Cache-Control no-store"),
        "{}",
        text(&verified)
    );
}
