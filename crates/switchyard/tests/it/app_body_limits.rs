//! Oversized bodies: the client always reads the 413 (never a reset connection), on the API
//! and on webhooks, and nothing is stored. Slow clients: half-sent headers, idle kept-alive
//! connections and trickled bodies are cut off, and a connection cap keeps the server
//! answering.

use crate::common;

use crate::common::{Backend, TestEnv, TestServer, KEY_A};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

common::on_both_backends!(oversized_bodies_get_a_readable_413);

async fn oversized_bodies_get_a_readable_413(backend: Backend) {
    let Some(env) = TestEnv::new(backend, "oversized_bodies_get_a_readable_413").await else {
        return;
    };
    let key = env.api_key(KEY_A);
    let server = TestServer::start(env.settings(KEY_A, None)).await;
    let api = server.api(&key);

    // Four times the 1 MiB API limit, over and over: before the server read what it refused,
    // some of these answers were lost in a connection reset.
    let body = format!(
        r#"{{"name":"{}","type":"salesforceOAuth2Api","data":{{}}}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    for attempt in 0..20 {
        let res = api
            .request(Method::POST, "/api/v1/credentials")
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("attempt {attempt}: no answer: {e}"));
        assert_eq!(
            res.status(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "attempt {attempt}"
        );
        let answer: Value = res.json().await.expect("JSON error body");
        assert!(
            answer["message"].as_str().unwrap().contains("limit"),
            "{answer}"
        );
    }

    // Webhooks have their own, larger limit (16 MiB by default).
    let hooks = server.anonymous();
    let huge = vec![b'a'; 20 * 1024 * 1024];
    for attempt in 0..3 {
        let res = hooks
            .request(Method::POST, "/webhook/anything")
            .body(huge.clone())
            .send()
            .await
            .unwrap_or_else(|e| panic!("webhook attempt {attempt}: no answer: {e}"));
        assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }
    // Under the webhook limit but over the API's: not refused for size (no such webhook).
    let (status, _) = common::answer(
        hooks
            .request(Method::POST, "/webhook/anything")
            .body(vec![b'a'; 2 * 1024 * 1024]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (_, list) = api.get("/api/v1/credentials").await;
    assert_eq!(list["data"].as_array().map(Vec::len), Some(0), "{list}");
    server.stop().await;
}

/// Reads until the server answers or closes; `None` if it does neither within `wait`.
async fn read_until_answer_or_close(socket: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, socket.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    return Some(String::from_utf8_lossy(&got).into_owned());
                }
            }
        }
    }
}

async fn slow_server(max_connections: u64) -> (TestEnv, TestServer) {
    let env = TestEnv::new(Backend::Sqlite, "slow_clients").await.unwrap();
    let mut settings = env.settings(KEY_A, None);
    settings.header_read_timeout_secs = 1;
    settings.body_rate_grace_secs = 1;
    settings.body_min_bytes_per_sec = 1024;
    settings.max_connections = max_connections;
    let server = TestServer::start(settings).await;
    (env, server)
}

fn address(server: &TestServer) -> String {
    server
        .url("")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_headers_and_idle_connections_are_closed() {
    let (_env, server) = slow_server(1024).await;
    let addr = address(&server);

    // Half a header, then nothing: closed after the header timeout.
    let mut half = TcpStream::connect(&addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let began = Instant::now();
    let seen = read_until_answer_or_close(&mut half, Duration::from_secs(10)).await;
    assert!(
        seen.is_some(),
        "a half-sent header holds its socket for ever"
    );
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );

    // A kept-alive connection that sends no new request is closed too.
    let mut idle = TcpStream::connect(&addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = read_until_answer_or_close(&mut idle, Duration::from_secs(5))
        .await
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), idle.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "an idle kept-alive connection stays open for ever"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trickled_body_fails_its_request() {
    let (env, server) = slow_server(1024).await;
    let key = env.api_key(KEY_A);
    let mut slow = TcpStream::connect(address(&server)).await.unwrap();
    slow.write_all(
        format!(
            "POST /api/v1/credentials HTTP/1.1\r\nHost: x\r\nX-N8N-API-KEY: {key}\r\n\
             content-type: application/json\r\ncontent-length: 100000\r\n\r\n{{"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    // One byte a quarter second: far below the 1 KiB/s floor.
    let trickle = async {
        for _ in 0..40 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if slow.write_all(b" ").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(4), trickle).await;
    let seen = read_until_answer_or_close(&mut slow, Duration::from_secs(3)).await;
    let seen = seen.expect("a trickled body holds its request for ever");
    assert!(
        seen.is_empty() || seen.starts_with("HTTP/1.1 4"),
        "answered or closed: {seen}"
    );
    // Nothing was stored.
    let (_, listed) = server.api(&key).get("/api/v1/credentials").await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0, "{listed}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_connection_cap_new_connections_get_503() {
    let (_env, server) = slow_server(4).await;
    let addr = address(&server);
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = TcpStream::connect(&addr).await.unwrap();
        // A complete request on each, so each is known to be served before the next.
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let answer = read_until_answer_or_close(&mut c, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        held.push(c);
    }
    let mut extra = TcpStream::connect(&addr).await.unwrap();
    let answer = read_until_answer_or_close(&mut extra, Duration::from_secs(5))
        .await
        .expect("an answer past the cap");
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );

    // Once the held connections go, new ones are served again. Until the server has seen
    // them close, a new connection may still be refused, and a refused one may be reset
    // before its 503 is read: each try is a fresh connection, and anything but a 200 is
    // "not yet".
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = match TcpStream::connect(&addr).await {
            Ok(mut c) => match c
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await
            {
                Ok(()) => read_until_answer_or_close(&mut c, Duration::from_secs(5)).await,
                Err(_) => None,
            },
            Err(_) => None,
        };
        let answer = answer.unwrap_or_default();
        if answer.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "still refused: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await;
}
