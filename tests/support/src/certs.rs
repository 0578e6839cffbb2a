//! Certificates made for one test run: a CA, a server certificate for
//! localhost / 127.0.0.1 signed by it, and a client certificate.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A CA with one server and one client certificate, written as PEM files.
pub struct TestCa {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

impl TestCa {
    /// The Mosquitto listener options that serve the server certificate.
    pub fn listener_options(&self) -> String {
        format!(
            "cafile {}\ncertfile {}\nkeyfile {}\n",
            self.ca.display(),
            self.server_cert.display(),
            self.server_key.display()
        )
    }

    /// Generates everything under `dir`, file names prefixed with `name`.
    pub fn generate(dir: &Path, name: &str) -> TestCa {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} test CA"));
        let ca_key = KeyPair::generate().expect("CA key");
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");

        let leaf = |names: Vec<String>, cn: &str| {
            let mut params = CertificateParams::new(names).expect("leaf params");
            params.distinguished_name.push(DnType::CommonName, cn);
            let key = KeyPair::generate().expect("leaf key");
            let cert = params
                .signed_by(&key, &ca_cert, &ca_key)
                .expect("leaf certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_pem, server_key) =
            leaf(vec!["localhost".into(), "127.0.0.1".into()], "localhost");
        let (client_pem, client_key) = leaf(vec!["client.test".into()], "test client");

        let write = |file: &str, text: &str| {
            let path = dir.join(format!("{name}-{file}"));
            std::fs::write(&path, text).expect("write PEM");
            path
        };
        TestCa {
            ca: write("ca.pem", &ca_cert.pem()),
            server_cert: write("server.pem", &server_pem),
            server_key: write("server.key", &server_key),
            client_cert: write("client.pem", &client_pem),
            client_key: write("client.key", &client_key),
        }
    }
}
