//! Credential type validation: each field rule, PEM repair, all problems at once.

use credentials::{CredentialType, CredentialTypes, ValidateOptions, ValidationError, REDACTED};
use serde_json::{json, Value};

use crate::common::{key_fragment, rsa_pkcs1_pem, rsa_pkcs8_pem};

/// Plain http refused, as in production.
const STRICT: ValidateOptions = ValidateOptions {
    allow_insecure_loopback: false,
};

fn ty(name: &str) -> CredentialType {
    CredentialTypes::new(salesforce_node::credential_types::credential_types())
        .expect("distinct types")
        .get(name)
        .unwrap()
        .clone()
}

fn jwt_data(key: &str) -> Value {
    json!({"clientId": "3MVG9-consumer", "username": "integration@acme.com", "privateKey": key})
}

fn problems(err: &ValidationError) -> Vec<(String, String)> {
    err.problems
        .iter()
        .map(|p| (p.field.clone(), p.expected.clone()))
        .collect()
}

#[test]
fn jwt_defaults_environment_and_trims_text() {
    let data = json!({"clientId": "  3MVG9-consumer ", "username": "u@acme.com", "privateKey": rsa_pkcs8_pem()});
    let out = ty("salesforceJwtApi").validate(&data, &STRICT).unwrap();
    assert_eq!(out["environment"], "production");
    assert_eq!(out["clientId"], "3MVG9-consumer");
    assert_eq!(out["privateKey"], rsa_pkcs8_pem());
    let keys: Vec<&String> = out.keys().collect();
    assert_eq!(
        keys,
        ["environment", "clientId", "username", "privateKey"],
        "field order, no myDomainUrl"
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let data = json!({"environment": "prod", "clientId": "", "username": 42, "privateKey": "not a key", "myDomainUrl": "http://acme.my.salesforce.com", "foo": 1});
    let err = ty("salesforceJwtApi").validate(&data, &STRICT).unwrap_err();
    let fields: Vec<String> = err.problems.iter().map(|p| p.field.clone()).collect();
    assert_eq!(
        fields,
        [
            "environment",
            "clientId",
            "username",
            "privateKey",
            "myDomainUrl",
            "foo"
        ]
    );
    let msg = err.to_string();
    assert!(msg.starts_with("invalid credential data: environment: expected one of production, sandbox, got \"prod\"; clientId: required, a non-empty string; "), "{msg}");
    assert!(
        msg.contains("username: expected a non-empty string, got a number"),
        "{msg}"
    );
    assert!(msg.contains("privateKey: expected a PEM RSA private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)"), "{msg}");
    assert!(
        !msg.contains("not a key"),
        "the key text is never echoed: {msg}"
    );
    assert!(
        msg.contains("myDomainUrl: expected an absolute https URL"),
        "{msg}"
    );
    assert!(
        msg.contains("foo: unknown field for salesforceJwtApi"),
        "{msg}"
    );
}

#[test]
fn data_that_is_not_an_object_is_a_problem_on_data() {
    for data in [json!("x"), json!([1]), json!(null), json!(3)] {
        let err = ty("salesforceOAuth2Api")
            .validate(&data, &STRICT)
            .unwrap_err();
        assert_eq!(err.problems.len(), 1);
        assert_eq!(err.problems[0].field, "data");
        assert!(
            err.problems[0].expected.contains("expected a JSON object"),
            "{err}"
        );
    }
}

#[test]
fn required_fields_per_type() {
    let err = ty("salesforceClientCredentialsApi")
        .validate(&json!({}), &STRICT)
        .unwrap_err();
    assert_eq!(
        problems(&err),
        [
            (
                "url".into(),
                "required, an absolute https URL such as https://api.example.com".into()
            ),
            ("clientId".into(), "required, a non-empty string".into()),
            ("clientSecret".into(), "required, a non-empty string".into()),
        ]
    );
    let err = ty("salesforceOAuth2Api")
        .validate(&json!({"environment": "sandbox"}), &STRICT)
        .unwrap_err();
    let fields: Vec<_> = err.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["clientId", "clientSecret"]);
}

#[test]
fn environment_accepts_only_production_and_sandbox() {
    let t = ty("salesforceOAuth2Api");
    for env in ["production", "sandbox"] {
        let out = t
            .validate(
                &json!({"environment": env, "clientId": "c", "clientSecret": "s"}),
                &STRICT,
            )
            .unwrap();
        assert_eq!(out["environment"], env);
    }
    for env in ["Production", "test", "prod"] {
        let err = t
            .validate(
                &json!({"environment": env, "clientId": "c", "clientSecret": "s"}),
                &STRICT,
            )
            .unwrap_err();
        assert_eq!(err.to_string(), format!("invalid credential data: environment: expected one of production, sandbox, got \"{env}\""));
    }
}

#[test]
fn urls_must_be_https_unless_loopback_is_allowed() {
    let t = ty("salesforceClientCredentialsApi");
    let data = |url: &str| json!({"url": url, "clientId": "c", "clientSecret": "s"});
    let out = t
        .validate(&data("https://acme.my.salesforce.com/"), &STRICT)
        .unwrap();
    assert_eq!(
        out["url"], "https://acme.my.salesforce.com",
        "trailing slash trimmed"
    );
    let err = t
        .validate(&data("http://acme.my.salesforce.com"), &STRICT)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("url: expected an absolute https URL") && err.contains("\"http\""),
        "{err}"
    );
    let err = t
        .validate(&data("http://127.0.0.1:9000"), &STRICT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("SWITCHYARD_ALLOW_INSECURE_HOSTS"), "{err}");
    let loose = ValidateOptions {
        allow_insecure_loopback: true,
    };
    for url in [
        "http://127.0.0.1:9000/",
        "http://localhost:9000",
        "http://[::1]:9000",
    ] {
        let out = t.validate(&data(url), &loose).unwrap();
        assert!(!out["url"].as_str().unwrap().ends_with('/'), "{out:?}");
    }
    let err = t
        .validate(&data("http://example.com"), &loose)
        .unwrap_err()
        .to_string();
    assert!(err.contains("url: expected an absolute https URL"), "{err}");
    let err = t
        .validate(&data("acme.my.salesforce.com"), &STRICT)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an absolute URL"), "{err}");

    let jwt = ty("salesforceJwtApi");
    let mut d = jwt_data(rsa_pkcs1_pem());
    d["myDomainUrl"] = json!("https://acme--dev.sandbox.my.salesforce.com/");
    assert_eq!(
        jwt.validate(&d, &STRICT).unwrap()["myDomainUrl"],
        "https://acme--dev.sandbox.my.salesforce.com"
    );
    d["myDomainUrl"] = json!("");
    assert!(
        jwt.validate(&d, &STRICT)
            .unwrap()
            .get("myDomainUrl")
            .is_none(),
        "an empty optional field is absent"
    );
}

#[test]
fn pkcs1_and_pkcs8_keys_are_accepted_as_is() {
    let t = ty("salesforceJwtApi");
    for pem in [rsa_pkcs1_pem(), rsa_pkcs8_pem()] {
        let out = t.validate(&jwt_data(pem), &STRICT).unwrap();
        assert_eq!(out["privateKey"], pem);
    }
}

/// The ways users paste keys: newlines lost, turned into spaces, escaped as `\n`, CRLF.
fn damaged_forms(pem: &str) -> Vec<(&'static str, String)> {
    vec![
        ("newlines removed", pem.replace('\n', "")),
        ("newlines as spaces", pem.replace('\n', " ")),
        ("literal \\n", pem.replace('\n', "\\n")),
        ("CRLF", pem.replace('\n', "\r\n")),
        ("surrounding blanks", format!("\n   {pem}  \n")),
        ("body rewrapped at 76", {
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let first = pem.lines().next().unwrap();
            let last = pem.lines().last().unwrap();
            let lines: Vec<String> = body
                .as_bytes()
                .chunks(76)
                .map(|c| String::from_utf8(c.to_vec()).unwrap())
                .collect();
            format!("{first}\n{}\n{last}", lines.join("\n"))
        }),
    ]
}

#[test]
fn pasted_keys_are_repaired_into_proper_pem() {
    let t = ty("salesforceJwtApi");
    for pem in [rsa_pkcs1_pem(), rsa_pkcs8_pem()] {
        for (how, damaged) in damaged_forms(pem) {
            assert_ne!(damaged, pem);
            let out = t
                .validate(&jwt_data(&damaged), &STRICT)
                .unwrap_or_else(|e| panic!("{how}: {e}"));
            let repaired = out["privateKey"].as_str().unwrap();
            assert_eq!(repaired, pem, "{how}");
            assert!(
                repaired.lines().all(|l| l.len() <= 64),
                "{how}: 64-column body"
            );
        }
    }
}

#[test]
fn bad_keys_say_what_was_expected_and_never_echo_the_key() {
    let t = ty("salesforceJwtApi");
    let pkcs8 = rsa_pkcs8_pem();
    let fragment = key_fragment(pkcs8);
    let mut corrupted = pkcs8.to_owned();
    // Damage the body in the middle so it is still base64 but no longer a valid key.
    let middle = corrupted.len() / 2;
    corrupted.replace_range(middle..middle + 8, "AAAAAAAA");
    let cases = [
        (
            "no header",
            pkcs8
                .lines()
                .filter(|l| !l.starts_with("-----"))
                .collect::<Vec<_>>()
                .join("\n"),
            "no -----BEGIN",
        ),
        (
            "truncated",
            pkcs8[..pkcs8.len() / 2].to_owned(),
            "-----END PRIVATE KEY----- line is missing",
        ),
        ("corrupted body", corrupted, "PKCS#8"),
        (
            "public key",
            pkcs8.replace("PRIVATE KEY", "PUBLIC KEY"),
            "BEGIN PUBLIC KEY",
        ),
        (
            "encrypted",
            pkcs8.replace("PRIVATE KEY", "ENCRYPTED PRIVATE KEY"),
            "password-protected",
        ),
        (
            "not base64",
            pkcs8.replacen(
                &fragment,
                &fragment.replace(|c: char| c.is_ascii_alphabetic(), "*"),
                1,
            ),
            "not base64",
        ),
        (
            "pkcs1 label on a pkcs8 body",
            pkcs8.replace("PRIVATE KEY", "RSA PRIVATE KEY"),
            "PKCS#1",
        ),
    ];
    for (how, text, reason) in cases {
        let err = t.validate(&jwt_data(&text), &STRICT).expect_err(how);
        let msg = err.to_string();
        assert!(
            msg.contains("privateKey: expected a PEM RSA private key (BEGIN PRIVATE KEY or BEGIN RSA PRIVATE KEY)"),
            "{how}: {msg}"
        );
        assert!(msg.contains(reason), "{how}: {msg}");
        assert!(
            !msg.contains(&fragment) && !msg.contains(&fragment[..12]),
            "{how} echoes the key: {msg}"
        );
    }
}

#[test]
fn the_placeholder_is_refused_where_nothing_is_stored() {
    let t = ty("salesforceOAuth2Api");
    let err = t
        .validate(&json!({"clientId": "c", "clientSecret": REDACTED}), &STRICT)
        .unwrap_err();
    assert_eq!(err.problems[0].field, "clientSecret");
    assert!(err.problems[0].expected.contains("placeholder"), "{err}");
}

#[test]
fn unknown_fields_are_refused_naming_the_type() {
    let t = ty("salesforceOAuth2Api");
    let err = t
        .validate(
            &json!({"clientId": "c", "clientSecret": "s", "clientSecrte": "typo"}),
            &STRICT,
        )
        .unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(
        err.to_string()
            .contains("clientSecrte: unknown field for salesforceOAuth2Api"),
        "{err}"
    );
    assert!(
        !err.to_string().contains("typo"),
        "values of unknown fields are not echoed"
    );
}
