//! Throwaway RSA keys for tests: a JWT signing key, its public key for a verifier, and a
//! self-signed certificate as a Salesforce connected app holds it.

use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::{RsaPrivateKey, RsaPublicKey};

/// A fresh 2048-bit RSA key.
pub struct RsaKey {
    private: RsaPrivateKey,
}

impl RsaKey {
    /// Generates a new key (a few hundred milliseconds in a debug build).
    pub fn generate() -> Self {
        let private =
            RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("an RSA key generates");
        Self { private }
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as `openssl genpkey`
    /// writes it.
    pub fn private_pem(&self) -> String {
        self.private
            .to_pkcs8_pem(LineEnding::LF)
            .expect("the key encodes")
            .to_string()
    }

    /// The private key as PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`), the older
    /// encoding many keys in the wild still use.
    pub fn private_pkcs1_pem(&self) -> String {
        self.private
            .to_pkcs1_pem(LineEnding::LF)
            .expect("the key encodes")
            .to_string()
    }

    /// The public key as SubjectPublicKeyInfo PEM (`-----BEGIN PUBLIC KEY-----`).
    pub fn public_pem(&self) -> String {
        RsaPublicKey::from(&self.private)
            .to_public_key_pem(LineEnding::LF)
            .expect("the public key encodes")
    }

    /// A self-signed X.509 certificate (PEM) for this key, with `common_name` as its
    /// subject, with rcgen's default validity (1975 to 4096: a test never meets its expiry).
    pub fn self_signed_certificate(&self, common_name: &str) -> String {
        let pair =
            rcgen::KeyPair::from_pem_and_sign_algo(&self.private_pem(), &rcgen::PKCS_RSA_SHA256)
                .expect("rcgen reads the key");
        let mut params = rcgen::CertificateParams::new(vec![common_name.to_owned()])
            .expect("certificate params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params
            .self_signed(&pair)
            .expect("the certificate signs")
            .pem()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pems_have_the_expected_armour_and_the_certificate_holds_the_key() {
        let key = RsaKey::generate();
        assert!(key.private_pem().starts_with("-----BEGIN PRIVATE KEY-----"));
        assert!(key
            .private_pkcs1_pem()
            .starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(key.public_pem().starts_with("-----BEGIN PUBLIC KEY-----"));
        let cert = key.self_signed_certificate("testkit");
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"), "{cert}");
        let other = RsaKey::generate();
        assert_ne!(key.private_pem(), other.private_pem());
    }
}
