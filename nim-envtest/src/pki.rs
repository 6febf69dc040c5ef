//! The certificates of one control plane: a CA, the API server's serving certificate and an
//! administrator's client certificate.
//!
//! The API server delegates authentication and authorization to a kubeconfig that points
//! nowhere, so the only identities it can verify are client certificates signed by
//! `--client-ca-file`; its delegating authorizer allows the group `system:masters` before it
//! asks anyone (`k8s.io/apiserver` `DelegatingAuthorizationOptions`), so a certificate with
//! `O=system:masters` is fully authorized.

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::error::{Error, Result};

/// A certificate and its private key, both PEM.
#[derive(Clone)]
pub struct Pem {
    /// The certificate.
    pub cert: String,
    /// The private key (PKCS#8).
    pub key: String,
}

impl std::fmt::Debug for Pem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pem")
            .field("cert", &self.cert)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The three certificates a control plane needs.
#[derive(Debug, Clone)]
pub struct Pki {
    /// The self-signed CA that signs the other two.
    pub ca: Pem,
    /// The API server's certificate, valid for `127.0.0.1` and `localhost`.
    pub serving: Pem,
    /// The client certificate: `CN=nim-envtest-admin`, `O=system:masters`.
    pub admin: Pem,
}

/// The common name of the administrator's client certificate.
pub const ADMIN_USER: &str = "nim-envtest-admin";
/// The group that the API server authorizes for everything.
pub const ADMIN_GROUP: &str = "system:masters";

impl Pki {
    /// Generates fresh keys (ECDSA P-256) and certificates.
    pub fn generate() -> Result<Self> {
        let fail = |what| move |source| Error::Certificate { what, source };

        let ca_key = KeyPair::generate().map_err(fail("CA"))?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(fail("CA"))?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "nim-envtest-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(fail("CA"))?;
        let issuer = Issuer::new(ca_params, &ca_key);

        let serving_key = KeyPair::generate().map_err(fail("serving"))?;
        let mut serving =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .map_err(fail("serving"))?;
        serving
            .distinguished_name
            .push(DnType::CommonName, "nim-envtest-apiserver");
        serving.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let serving_cert = serving
            .signed_by(&serving_key, &issuer)
            .map_err(fail("serving"))?;

        let admin_key = KeyPair::generate().map_err(fail("client"))?;
        let mut admin = CertificateParams::new(Vec::<String>::new()).map_err(fail("client"))?;
        admin
            .distinguished_name
            .push(DnType::CommonName, ADMIN_USER);
        admin
            .distinguished_name
            .push(DnType::OrganizationName, ADMIN_GROUP);
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin
            .signed_by(&admin_key, &issuer)
            .map_err(fail("client"))?;

        Ok(Self {
            ca: Pem {
                cert: ca_cert.pem(),
                key: ca_key.serialize_pem(),
            },
            serving: Pem {
                cert: serving_cert.pem(),
                key: serving_key.serialize_pem(),
            },
            admin: Pem {
                cert: admin_cert.pem(),
                key: admin_key.serialize_pem(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_three_distinct_pem_certificates() {
        let pki = Pki::generate().expect("certificates");
        for pem in [&pki.ca, &pki.serving, &pki.admin] {
            assert!(pem.cert.starts_with("-----BEGIN CERTIFICATE-----"));
            assert!(pem.key.starts_with("-----BEGIN PRIVATE KEY-----"));
        }
        assert_ne!(pki.ca.cert, pki.serving.cert);
        assert_ne!(pki.serving.key, pki.admin.key);
    }

    #[test]
    fn debug_hides_private_keys() {
        let pki = Pki::generate().expect("certificates");
        let debug = format!("{pki:?}");
        assert!(!debug.contains("PRIVATE KEY"), "{debug}");
        assert!(debug.contains("<redacted>"));
    }
}
