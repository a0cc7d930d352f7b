//! Keys: parsing, ids, loading from the environment, a file, or a generated file.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine;
use credentials::vault::{GENERATED_KEY_FILE, KEY_FILE_VAR, KEY_VAR, PREVIOUS_KEYS_VAR};
use credentials::{EncryptionKey, KeyConfig, KeyRing, KeySource, VaultError};
use secrecy::SecretString;

/// Bytes whose base64 forms differ between the standard and URL-safe alphabets.
const BYTES: [u8; 32] = [
    0xfb, 0xff, 0xbf, 0x3e, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
    0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0xfb, 0xef,
];

#[test]
fn key_parses_from_hex_and_every_base64_variant_to_the_same_id() {
    let hex = hex::encode(BYTES);
    let forms = [
        hex.clone(),
        hex.to_uppercase(),
        format!("  {hex}\n"),
        STANDARD.encode(BYTES),
        STANDARD_NO_PAD.encode(BYTES),
        URL_SAFE.encode(BYTES),
        URL_SAFE_NO_PAD.encode(BYTES),
        format!("\t{}\r\n", STANDARD.encode(BYTES)),
    ];
    assert!(
        forms[3].contains('+') || forms[3].contains('/'),
        "the sample exercises the alphabets"
    );
    let ids: Vec<String> = forms
        .iter()
        .map(|f| {
            EncryptionKey::parse(f)
                .unwrap_or_else(|e| panic!("{f}: {e}"))
                .id()
                .to_owned()
        })
        .collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    assert_eq!(ids[0].len(), 16);
    assert!(ids[0].bytes().all(|b| b.is_ascii_hexdigit()));
    let other = EncryptionKey::parse(&hex::encode([7u8; 32])).unwrap();
    assert_ne!(other.id(), ids[0]);
}

#[test]
fn bad_keys_are_refused_with_the_expected_form_and_never_the_value() {
    let cases = [
        hex::encode([0xabu8; 31]),
        hex::encode([0xabu8; 33]),
        STANDARD.encode([0x5au8; 31]),
        STANDARD.encode([0x5au8; 33]),
        "correct horse battery staple, my favourite key".to_owned(),
        "zz".repeat(32),
        String::new(),
        "   ".to_owned(),
    ];
    for case in cases {
        let err = EncryptionKey::parse(&case).expect_err(&case);
        let msg = err.to_string();
        assert!(msg.contains("64 hex characters or base64"), "{msg}");
        assert!(msg.contains("openssl rand -hex 32"), "{msg}");
        if !case.trim().is_empty() {
            assert!(
                !msg.contains(case.trim()),
                "message echoes the input: {msg}"
            );
            assert!(!format!("{err:?}").contains(case.trim()));
        }
    }
    let msg = EncryptionKey::parse(&hex::encode([1u8; 31]))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("31 bytes"), "{msg}");
}

#[test]
fn debug_of_a_key_shows_only_its_id() {
    let hex = hex::encode(BYTES);
    let key = EncryptionKey::parse(&hex).unwrap();
    let debug = format!("{key:?}");
    assert_eq!(debug, format!("EncryptionKey([redacted], id={})", key.id()));
    let ring = KeyRing::new(
        key.clone(),
        vec![EncryptionKey::parse(&hex::encode([9u8; 32])).unwrap()],
    );
    let debug = format!("{ring:?}");
    assert!(
        debug.contains(key.id()) && !debug.contains(&hex[..16]),
        "{debug}"
    );
}

fn config(dir: &std::path::Path) -> KeyConfig {
    KeyConfig {
        key: None,
        key_file: None,
        previous: None,
        data_dir: dir.to_owned(),
    }
}

#[test]
fn key_from_env_and_previous_list() {
    let dir = tempfile::tempdir().unwrap();
    let current = hex::encode([1u8; 32]);
    let old1 = hex::encode([2u8; 32]);
    let old2 = STANDARD.encode([3u8; 32]);
    let cfg = KeyConfig {
        key: Some(SecretString::from(current.clone())),
        previous: Some(SecretString::from(format!("{old1}, {old2},"))),
        ..config(dir.path())
    };
    let (ring, source) = KeyRing::load(&cfg).unwrap();
    assert_eq!(source, KeySource::Env);
    assert_eq!(
        ring.current_id(),
        EncryptionKey::parse(&current).unwrap().id()
    );
    assert_eq!(ring.previous_ids().len(), 2);
    assert!(ring.has(EncryptionKey::parse(&old2).unwrap().id()));
    assert!(
        !dir.path().join(GENERATED_KEY_FILE).exists(),
        "no file is generated when a key is given"
    );
}

#[test]
fn bad_key_sources_are_named_without_values() {
    let dir = tempfile::tempdir().unwrap();
    let both = KeyConfig {
        key: Some(SecretString::from(hex::encode([1u8; 32]))),
        key_file: Some(dir.path().join("k")),
        ..config(dir.path())
    };
    let msg = KeyRing::load(&both).unwrap_err().to_string();
    assert!(msg.contains(KEY_VAR) && msg.contains(KEY_FILE_VAR), "{msg}");

    let bad_env = KeyConfig {
        key: Some(SecretString::from("hunter2-not-a-key".to_owned())),
        ..config(dir.path())
    };
    let msg = KeyRing::load(&bad_env).unwrap_err().to_string();
    assert!(
        msg.starts_with(KEY_VAR) && !msg.contains("hunter2"),
        "{msg}"
    );

    let bad_previous = KeyConfig {
        key: Some(SecretString::from(hex::encode([1u8; 32]))),
        previous: Some(SecretString::from(format!(
            "{},hunter2-old",
            hex::encode([2u8; 32])
        ))),
        ..config(dir.path())
    };
    let msg = KeyRing::load(&bad_previous).unwrap_err().to_string();
    assert!(
        msg.contains(PREVIOUS_KEYS_VAR) && msg.contains("item 2") && !msg.contains("hunter2"),
        "{msg}"
    );

    let missing_file = KeyConfig {
        key_file: Some(dir.path().join("absent.key")),
        ..config(dir.path())
    };
    let err = KeyRing::load(&missing_file).unwrap_err();
    assert!(matches!(err, VaultError::KeyFile { .. }), "{err}");
    assert!(err.to_string().contains("absent.key"));

    let junk = dir.path().join("junk.key");
    std::fs::write(&junk, "hunter2 is not a key\n").unwrap();
    let msg = KeyRing::load(&KeyConfig {
        key_file: Some(junk),
        ..config(dir.path())
    })
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains(KEY_FILE_VAR) && msg.contains("junk.key") && !msg.contains("hunter2"),
        "{msg}"
    );
}

#[test]
fn key_file_contents_are_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.key");
    let hex = hex::encode([4u8; 32]);
    std::fs::write(&path, format!("\n  {hex}  \n\n")).unwrap();
    let (ring, source) = KeyRing::load(&KeyConfig {
        key_file: Some(path.clone()),
        ..config(dir.path())
    })
    .unwrap();
    assert_eq!(source, KeySource::File(path));
    assert_eq!(ring.current_id(), EncryptionKey::parse(&hex).unwrap().id());
}

#[cfg(unix)]
#[test]
fn generated_key_file_has_mode_0600_and_is_reused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("not/yet/there");
    let (first, source) = KeyRing::load(&config(&data_dir)).unwrap();
    let path = data_dir.join(GENERATED_KEY_FILE);
    assert_eq!(source, KeySource::Generated(path.clone()));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    let contents = std::fs::read_to_string(&path).unwrap();
    assert_eq!(contents.trim().len(), 64, "hex key on one line");

    let (second, source) = KeyRing::load(&config(&data_dir)).unwrap();
    assert_eq!(source, KeySource::File(path));
    assert_eq!(second.current_id(), first.current_id());
    let sealed = first.seal(b"kept across restarts", b"id");
    assert_eq!(
        second
            .open(&sealed.key_id, &sealed.blob, b"id")
            .unwrap()
            .as_slice(),
        b"kept across restarts"
    );
}
