//! Certificates a test makes for itself: one certificate authority, a server certificate for
//! `localhost` and `127.0.0.1` signed by it, and a client certificate for mutual TLS. Each is
//! written as PEM into a folder the test owns, so that services and nats-server read them from
//! files exactly as an operator's would be read.

use std::path::{Path, PathBuf};

/// The PEM files of a test's certificate authority, server and client.
#[derive(Debug, Clone)]
pub struct TestPki {
    /// The CA certificate that signed the other two.
    pub ca_cert: PathBuf,
    /// The server certificate (subject alternative names `localhost` and `127.0.0.1`).
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate (common name `client`), for mutual TLS.
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// The CA's parameters and key (PEM), to sign more certificates.
    ca_params: rcgen::CertificateParams,
    ca_key_pem: String,
}

impl TestPki {
    /// Makes a new CA, server and client certificate under `dir` (created when missing).
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("create the certificates' folder");
        let ca_key = rcgen::KeyPair::generate().expect("generate the CA key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "closedloop test CA");
        ca_params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca = ca_params.self_signed(&ca_key).expect("self-sign the CA");
        let ca_key_pem = ca_key.serialize_pem();
        let ca_cert = dir.join("ca.pem");
        std::fs::write(&ca_cert, ca.pem()).expect("write ca.pem");
        let pki = Self {
            ca_cert,
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server-key.pem"),
            client_cert: dir.join("client.pem"),
            client_key: dir.join("client-key.pem"),
            ca_params,
            ca_key_pem,
        };
        let (cert, key) = pki.sign(
            "localhost",
            &["localhost", "127.0.0.1"],
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        );
        std::fs::write(&pki.server_cert, cert).expect("write server.pem");
        std::fs::write(&pki.server_key, key).expect("write server-key.pem");
        let (cert, key) = pki.sign("client", &[], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
        std::fs::write(&pki.client_cert, cert).expect("write client.pem");
        std::fs::write(&pki.client_key, key).expect("write client-key.pem");
        pki
    }

    /// A further certificate signed by this CA: `(certificate PEM, key PEM)`. `names` are the
    /// subject alternative names (DNS names or IP addresses).
    pub fn sign(
        &self,
        common_name: &str,
        names: &[&str],
        usage: rcgen::ExtendedKeyUsagePurpose,
    ) -> (String, String) {
        let ca_key = rcgen::KeyPair::from_pem(&self.ca_key_pem).expect("read the CA key");
        let issuer = rcgen::Issuer::new(self.ca_params.clone(), ca_key);
        let names: Vec<String> = names.iter().map(|name| (*name).to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names).expect("certificate params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        let key = rcgen::KeyPair::generate().expect("generate a key");
        let cert = params
            .signed_by(&key, &issuer)
            .expect("sign the certificate");
        (cert.pem(), key.serialize_pem())
    }
}
