//! The HTML pages the callback answers. Every value shown is escaped; no page loads
//! anything, is cached, or sends a referrer (the callback URL carries the code).

use crate::connect::pending::STATE_TTL;
use crate::connect::Failure;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

impl Failure {
    fn status(&self) -> StatusCode {
        match self {
            Failure::AccessDenied { .. } => StatusCode::FORBIDDEN,
            Failure::AlreadyUsed => StatusCode::CONFLICT,
            Failure::CredentialGone => StatusCode::NOT_FOUND,
            Failure::Exchange { error, .. } if error.unreachable => StatusCode::BAD_GATEWAY,
            Failure::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn message(&self) -> String {
        let again = "Start the connection again from the credential.";
        match self {
            Failure::Missing(what) => format!(
                "The service did not send back the expected parameters (missing: {what}). {again}"
            ),
            Failure::InvalidState => format!(
                "The state of this connection attempt is not valid: it was altered or was not issued by this Switchyard. {again}"
            ),
            Failure::Expired => format!(
                "This connection attempt expired: it must be completed within {} minutes. {again}",
                STATE_TTL.num_minutes()
            ),
            Failure::AlreadyUsed => format!(
                "This connection attempt was already used: each one completes only once. {again}"
            ),
            Failure::AccessDenied {
                provider,
                description,
            } => {
                let at = provider.as_deref().unwrap_or("the service");
                let said = if description.is_empty() {
                    String::new()
                } else {
                    format!(" ({at} said: {description})")
                };
                format!("Access was denied in {at}{said}, so the credential was not connected. To connect it, start again and choose Allow.")
            }
            Failure::Provider {
                provider,
                error,
                description,
            } => {
                let who = provider.as_deref().unwrap_or("The service");
                format!("{who} answered with an error: {error}: {description}. {again}")
            }
            Failure::CredentialGone => {
                "The credential was deleted while the connection was in progress.".into()
            }
            Failure::Exchange { provider, error } => {
                format!("{provider} refused to complete the connection: {error}")
            }
            Failure::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "OAuth2 callback failed");
                "The connection could not be stored; the server log has the details.".into()
            }
        }
    }
}

/// `public_url`'s origin, the only window the success message is posted to.
pub(super) fn origin(public_url: &str) -> Option<String> {
    url::Url::parse(public_url)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .filter(|o| o != "null")
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn html(status: StatusCode, body: String, csp: &'static str) -> Response {
    let mut res = (status, Html(body)).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(csp),
    );
    res
}

fn document(title: &str, body: &str, script: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body><h1>{title}</h1>\n{body}\n{script}</body></html>\n"
    )
}

/// 200: tells the opener (n8n's UI listens for `success`) and closes itself.
pub(super) fn success(credential_name: &str, provider: &str, origin: Option<&str>) -> Response {
    // A JSON string is a valid JS string literal; `<` is escaped so `</script>` cannot occur.
    let target = serde_json::to_string(origin.unwrap_or("*"))
        .expect("a string serializes")
        .replace('<', "\\u003c");
    let script = format!(
        "<script>if (window.opener) {{ window.opener.postMessage('success', {target}); }} window.close();</script>"
    );
    let body = format!(
        "<p id=\"message\">Credential &ldquo;{}&rdquo; is connected to {}. This window closes itself; if it does not, close it.</p>",
        escape(credential_name),
        escape(provider)
    );
    html(
        StatusCode::OK,
        document("Connection successful", &body, &script),
        "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'none'",
    )
}

/// 4xx (5xx only for Switchyard's own failures): what happened and what to do.
pub(super) fn failure(failure: &Failure) -> Response {
    let body = format!("<p id=\"error\">{}</p>", escape(&failure.message()));
    html(
        failure.status(),
        document("Connection failed", &body, ""),
        "default-src 'none'; frame-ancestors 'none'",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>alert('x')</script> & "y""#),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }

    #[test]
    fn the_message_goes_to_the_public_origin_only() {
        assert_eq!(
            origin("https://sy.example.com/base/").as_deref(),
            Some("https://sy.example.com")
        );
        assert_eq!(
            origin("http://localhost:5678").as_deref(),
            Some("http://localhost:5678")
        );
        assert_eq!(origin("not a url"), None);
    }
}
