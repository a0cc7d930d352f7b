//! Repairing and checking pasted PEM RSA private keys.
//!
//! Users paste keys into web forms and JSON bodies, which often loses the line breaks
//! (the whole key on one line), turns them into spaces, or leaves them as literal `\n`
//! sequences. The base64 body is unambiguous once whitespace is removed, so the key is
//! rebuilt as standard PEM (64-column lines) and only then parsed.
//!
//! Errors here describe the shape of the problem only; they never quote the key.

use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::RsaPrivateKey;

const PKCS8_LABEL: &str = "PRIVATE KEY";
const PKCS1_LABEL: &str = "RSA PRIVATE KEY";

/// Returns the key as standard PEM, or why it is not a usable RSA private key.
pub(crate) fn repair_rsa_private_key(input: &str) -> Result<String, String> {
    let text = input
        .trim()
        .replace("\\r\\n", "\n")
        .replace("\\n", "\n")
        .replace("\r\n", "\n");
    let begin = text
        .find("-----BEGIN ")
        .ok_or("the text has no -----BEGIN line")?;
    let after_begin = &text[begin + "-----BEGIN ".len()..];
    let label_end = after_begin
        .find("-----")
        .ok_or("the -----BEGIN line is not closed by -----")?;
    let label = after_begin[..label_end].trim();
    let body_and_rest = &after_begin[label_end + "-----".len()..];
    match label {
        PKCS8_LABEL | PKCS1_LABEL => {}
        "ENCRYPTED PRIVATE KEY" => {
            return Err(
                "password-protected keys are not supported; export it without a password \
                        (openssl pkcs8 -topk8 -nocrypt)"
                    .into(),
            )
        }
        other if other.len() <= 40 && other.chars().all(|c| c.is_ascii_uppercase() || c == ' ') => {
            return Err(format!("found a BEGIN {other} block instead"));
        }
        _ => return Err("the -----BEGIN line names no known key type".into()),
    }
    let end_marker = format!("-----END {label}-----");
    let end = body_and_rest
        .find(&end_marker)
        .ok_or_else(|| format!("the {end_marker} line is missing"))?;
    let body = &body_and_rest[..end];
    if body.contains(':') {
        return Err(
            "the key has Proc-Type/DEK-Info headers, so it is password-protected; \
                    export it without a password (openssl rsa -in key.pem -out plain.pem)"
                .into(),
        );
    }
    let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
    if base64.is_empty() {
        return Err("the key body is empty".into());
    }
    if !base64
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
    {
        return Err("the key body contains characters that are not base64".into());
    }
    let mut pem = String::with_capacity(base64.len() + base64.len() / 64 + 64);
    pem.push_str("-----BEGIN ");
    pem.push_str(label);
    pem.push_str("-----\n");
    for line in base64.as_bytes().chunks(64) {
        // Chunks of an ASCII string are valid UTF-8.
        pem.push_str(std::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str(&end_marker);
    pem.push('\n');
    let parsed: Result<RsaPrivateKey, ()> = if label == PKCS8_LABEL {
        RsaPrivateKey::from_pkcs8_pem(&pem).map_err(drop)
    } else {
        RsaPrivateKey::from_pkcs1_pem(&pem).map_err(drop)
    };
    match parsed {
        Ok(_) => Ok(pem),
        Err(()) if label == PKCS8_LABEL => {
            Err("the body does not decode as a PKCS#8 RSA private key".into())
        }
        Err(()) => Err("the body does not decode as a PKCS#1 RSA private key".into()),
    }
}
