//! Client certificates and certificate reloading against the real binary, with CAs and
//! certificates made in the test (rcgen): `serve --tls-client-ca` verifies a certificate a
//! client presents and maps its subject to a principal (the CLI's `--client-cert`, the Rust
//! client over HTTPS and gRPC); an expired certificate and one of another CA fail the
//! handshake; a client without one still uses a token; the server's certificate files are
//! reloaded without a restart; the console is served with HSTS over TLS.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use serde_json::{Value, json};
use support::TestServer;
use switchyard_testkit::{PATIENCE, wait_for};

/// A CA that issues certificates into a directory.
struct Ca {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = params.self_signed(&key).expect("CA certificate");
        Ca { pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A certificate for `name` (the server's, for localhost; a client's, with `name` as the
    /// subject's common name), valid from `from` to `to` (years); its PEM and its key's.
    fn issue(&self, name: &str, server: bool, years: (i32, i32)) -> (String, String) {
        let key = KeyPair::generate().expect("key");
        let sans = if server { vec!["localhost".to_string(), "127.0.0.1".to_string()] } else { Vec::new() };
        let mut params = CertificateParams::new(sans).expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages =
            vec![if server { ExtendedKeyUsagePurpose::ServerAuth } else { ExtendedKeyUsagePurpose::ClientAuth }];
        params.not_before = rcgen::date_time_ymd(years.0, 1, 1);
        params.not_after = rcgen::date_time_ymd(years.1, 1, 1);
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        (cert.pem(), key.serialize_pem())
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write PEM");
    path
}

fn s(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

struct Setup {
    server: TestServer,
    dir: tempfile::TempDir,
    server_ca: PathBuf,
    client_ca: Ca,
    cert: PathBuf,
    key: PathBuf,
}

fn start() -> Setup {
    let dir = tempfile::tempdir().expect("temp dir");
    let server_ca = Ca::new("Switchyard test server CA");
    let client_ca = Ca::new("Switchyard test client CA");
    let (cert_pem, key_pem) = server_ca.issue("localhost", true, (2020, 2090));
    let cert = write(dir.path(), "server.pem", &cert_pem);
    let key = write(dir.path(), "server.key", &key_pem);
    let server_ca_path = write(dir.path(), "server-ca.pem", &server_ca.pem);
    let client_ca_path = write(dir.path(), "client-ca.pem", &client_ca.pem);
    let mut server =
        TestServer::start_with(&["--tls-cert", s(&cert), "--tls-key", s(&key), "--tls-client-ca", s(&client_ca_path)]);
    server.ca_cert = Some(server_ca_path.clone());
    Setup { server, dir, server_ca: server_ca_path, client_ca, cert, key }
}

impl Setup {
    /// A client certificate of `client_ca` (or of `other`) for `subject`, written as files.
    fn client_files(&self, subject: &str, years: (i32, i32), other: Option<&Ca>) -> (PathBuf, PathBuf) {
        let (cert, key) = other.unwrap_or(&self.client_ca).issue(subject, false, years);
        let stem = format!("{subject}-{}-{}", years.0, other.is_some());
        (write(self.dir.path(), &format!("{stem}.pem"), &cert), write(self.dir.path(), &format!("{stem}.key"), &key))
    }

    /// The CLI with a client certificate and no token.
    fn cli_with_certificate(&self, cert: &Path, key: &Path) -> Command {
        let mut cmd = self.server.cli();
        cmd.env_remove("SWITCHYARD_TOKEN").current_dir(self.dir.path()).args([
            "--ca-cert",
            s(&self.server_ca),
            "--client-cert",
            s(cert),
            "--client-key",
            s(key),
            "--output",
            "json",
        ]);
        cmd
    }

    /// A service account granted space-writer on acme:*; its id.
    async fn service_account(&self) -> String {
        let http = self.server.client();
        let created = http
            .create_principal("service", "bot", None, &[("space-writer".into(), "acme:*".into())])
            .await
            .expect("a service account");
        created["id"].as_str().expect("id").to_owned()
    }
}

fn run(mut cmd: Command) -> (i32, String, String) {
    let out = cmd.output().expect("run the CLI");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_certificate_acts_as_the_principal_its_subject_names() {
    let setup = start();
    let id = setup.service_account().await;
    let (cert, key) = setup.client_files(&id, (2020, 2090), None);

    // The CLI, with no token: the certificate says who.
    let (code, out, err) = run({
        let mut cmd = setup.cli_with_certificate(&cert, &key);
        cmd.args(["auth", "whoami"]);
        cmd
    });
    assert_eq!(code, 0, "{out}{err}");
    let me: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!((&me["id"], &me["kind"], &me["name"]), (&json!(id), &json!("service"), &json!("bot")), "{me}");
    // Its grants decide: acme is granted, beta is not.
    let definition = write(setup.dir.path(), "m.yaml", "name: m\ninitial: a\nstates:\n  a: {}\n");
    let (code, out, err) = run({
        let mut cmd = setup.cli_with_certificate(&cert, &key);
        cmd.args(["--space", "acme", "machine", "apply", "-f", s(&definition)]);
        cmd
    });
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = run({
        let mut cmd = setup.cli_with_certificate(&cert, &key);
        cmd.args(["--space", "beta", "machine", "apply", "-f", s(&definition)]);
        cmd
    });
    assert_eq!(code, 1);
    assert!(err.contains("forbidden"), "{err}");

    // The Rust client over HTTPS and gRPC, no token.
    let builder = switchyard_client::Client::builder(&setup.server.url)
        .ca_cert_file(&setup.server_ca)
        .expect("CA")
        .client_identity_files(&cert, &key)
        .expect("identity");
    let me = builder.build().expect("client").me().await.expect("me");
    assert_eq!(me["id"], json!(id), "{me}");
    use switchyard_client::grpc::v1;
    let machines = builder
        .build_grpc()
        .expect("gRPC client")
        .machines()
        .list_machines(v1::ListMachinesRequest { space: "acme".into() })
        .await
        .expect("list over gRPC with the certificate")
        .into_inner();
    assert_eq!(machines.machines.len(), 1);

    // A token still wins over the certificate, and a client without a certificate uses one.
    let reader = setup
        .server
        .client()
        .create_token(&switchyard_client::CreateToken {
            name: "r".into(),
            role: switchyard_client::Role::Reader,
            spaces: vec!["beta".into()],
            principal: None,
        })
        .await
        .expect("token")
        .token;
    let with_both = builder.clone().token(Some(reader)).build().expect("client").me().await.expect("me");
    assert_eq!(with_both["kind"], json!("token"), "{with_both}");
    setup.server.client().readyz().await.expect("no certificate, a token");

    // The principal's deletion ends what its certificate can do.
    setup.server.client().delete_principal(&id).await.expect("delete");
    let err = builder.build().expect("client").me().await.expect_err("deleted");
    assert!(err.to_string().contains("unauthorized"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_foreign_and_unknown_certificates_are_refused() {
    let setup = start();
    let id = setup.service_account().await;
    let refused = |cert: PathBuf, key: PathBuf| {
        let mut cmd = setup.cli_with_certificate(&cert, &key);
        cmd.args(["auth", "whoami"]);
        run(cmd)
    };
    // Expired, and issued by a CA the server does not trust: the handshake fails.
    let (cert, key) = setup.client_files(&id, (2000, 2001), None);
    let (code, out, err) = refused(cert, key);
    assert_ne!(code, 0, "{out}{err}");
    assert!(!out.contains(&id), "{out}");
    let stranger = Ca::new("Someone else's CA");
    let (cert, key) = setup.client_files(&id, (2020, 2090), Some(&stranger));
    let (code, out, err) = refused(cert, key);
    assert_ne!(code, 0, "{out}{err}");
    assert!(!out.contains(&id), "{out}");
    // A valid certificate whose subject is nobody: 401.
    let (cert, key) = setup.client_files("nobody", (2020, 2090), None);
    let (code, _, err) = refused(cert, key);
    assert_eq!(code, 1);
    assert!(err.contains("unauthorized") && err.contains("nobody"), "{err}");
    // A certificate the server rejected left it serving.
    setup.server.client().readyz().await.expect("still serving");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_certificate_is_reloaded_without_a_restart_and_the_console_sends_hsts() {
    let setup = start();
    // The console over TLS tells browsers to stay on HTTPS.
    let http = switchyard_client::Client::builder(&setup.server.url)
        .ca_cert_file(&setup.server_ca)
        .expect("CA")
        .reqwest_builder()
        .build()
        .expect("reqwest");
    let page = http.get(format!("{}/console/sign-in", setup.server.url)).send().await.expect("console");
    assert_eq!(page.headers().get("strict-transport-security").map(|v| v.as_bytes()), Some(&b"max-age=31536000"[..]));

    // A certificate of another CA replaces the files: new connections get it.
    let new_ca = Ca::new("Switchyard renewed CA");
    let (cert, key) = new_ca.issue("localhost", true, (2020, 2090));
    // A half-written pair (the key of another certificate) is refused and the old one stays.
    std::fs::write(&setup.cert, &cert).expect("write the new certificate");
    let new_ca_path = write(setup.dir.path(), "new-ca.pem", &new_ca.pem);
    let trusting_new = switchyard_client::Client::builder(&setup.server.url)
        .ca_cert_file(&new_ca_path)
        .expect("CA")
        .token(Some(setup.server.admin_token.clone()))
        .build()
        .expect("client");
    tokio::time::sleep(2 * std::time::Duration::from_secs(2)).await;
    setup.server.client().readyz().await.expect("a mismatched pair is not loaded: the old certificate stays");
    std::fs::write(&setup.key, &key).expect("write the new key");
    wait_for("the new certificate to be served", PATIENCE, || trusting_new.readyz(), |r| r.is_ok())
        .await
        .expect("served");
    let old = setup.server.client().readyz().await;
    assert!(old.is_err(), "the old certificate is no longer served");
}
