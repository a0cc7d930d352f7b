//! Marks the Postgres tests ignored when no test server is named, so that a plain
//! `cargo test` says "N ignored" (and `--ignored` says why) instead of reporting tests that
//! ran nothing as passed. In CI the variable is set, or the tests fail loudly.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests_unset)");
    println!("cargo::rerun-if-env-changed=SWITCHYARD_TEST_POSTGRES_URL");
    println!("cargo::rerun-if-env-changed=CI");
    let unset = std::env::var("SWITCHYARD_TEST_POSTGRES_URL").map_or(true, |v| v.is_empty());
    let ci = std::env::var("CI").is_ok_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "true" | "1" | "yes" | "on"
        )
    });
    if unset && !ci {
        println!("cargo::rustc-cfg=postgres_tests_unset");
    }
}
