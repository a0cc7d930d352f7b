//! Connecting a credential through OAuth2, for every credential type a plugin declares with
//! `oauth2: true`: [`authorize_url`] starts an attempt (a sealed, single-use `state` and a PKCE
//! verifier kept in [`pending`]) and returns the service's authorize URL; [`complete`] checks
//! the callback's `state`, has the plugin exchange the code, and stores the token data it
//! returns, then tells the plugins. The server's routes (`/rest/oauth2-credential/...`) and
//! `switchyard credentials connect` both call these. Neither the code, the state nor the
//! verifier is ever logged or shown.

pub mod pending;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use node_api::{
    AuthorizeRequest, CodeExchange, ConnectError, CredentialError, CredentialProvider,
    OAuth2Connect, PluginRuntime, StoredCredential,
};
use serde_json::Value;

use crate::app::AppState;
use pending::StateError;

/// Where the service sends the browser back, below `SWITCHYARD_PUBLIC_URL`.
pub const CALLBACK_PATH: &str = "/rest/oauth2-credential/callback";

/// The redirect URI registered with the service: the public URL + [`CALLBACK_PATH`].
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/'))
}

/// Why a connect attempt could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No credential has this id.
    #[error("{0}")]
    NotFound(String),
    /// The credential cannot be connected this way, or its settings are wrong; says why.
    #[error("{0}")]
    Refused(String),
    /// The store failed; logged, not shown.
    #[error("the connect attempt could not be recorded")]
    Internal(#[source] anyhow::Error),
}

/// Why a callback was refused; each names what happened and what to do.
#[derive(Debug)]
pub enum Failure {
    /// `code` and/or `state` missing (named).
    Missing(String),
    /// A state this Switchyard did not issue, or an altered one.
    InvalidState,
    /// Older than the state lifetime.
    Expired,
    /// Already consumed by an earlier callback.
    AlreadyUsed,
    /// The user chose Deny at the service (named when the state told which credential).
    AccessDenied {
        /// The service's name, when known.
        provider: Option<String>,
        /// What the service said.
        description: String,
    },
    /// The service redirected back with another `error`.
    Provider {
        /// The service's name, when known.
        provider: Option<String>,
        /// Its `error` code.
        error: String,
        /// Its `error_description`.
        description: String,
    },
    /// The credential was deleted while the user was at the service.
    CredentialGone,
    /// The code exchange failed.
    Exchange {
        /// The service's name.
        provider: String,
        /// What it said.
        error: ConnectError,
    },
    /// Storing failed; logged, not shown.
    Internal(anyhow::Error),
}

impl Failure {
    /// A short reason for the log line: never a value from the request.
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::Missing(_) => "missing code or state",
            Failure::InvalidState => "invalid state",
            Failure::Expired => "expired state",
            Failure::AlreadyUsed => "state already used",
            Failure::AccessDenied { .. } => "access denied at the service",
            Failure::Provider { .. } => "the service returned an error",
            Failure::CredentialGone => "credential deleted",
            Failure::Exchange { .. } => "code exchange failed",
            Failure::Internal(_) => "internal error",
        }
    }
}

/// The plugin that connects credentials of `stored`'s type through OAuth2, if any.
fn runtime_for<'a>(state: &'a AppState, type_name: &str) -> Option<&'a Arc<dyn PluginRuntime>> {
    state
        .plugins
        .owner_of(type_name)
        .filter(|p| p.oauth2(type_name).is_some())
}

/// The names of the credential types connected through OAuth2, for error messages.
fn oauth2_types(state: &AppState) -> String {
    state
        .credentials
        .types()
        .iter()
        .filter(|t| t.oauth2 && runtime_for(state, t.name).is_some())
        .map(|t| t.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Starts a connect attempt for credential `id` and returns the service's authorize URL to
/// open. Used by the route and by `switchyard credentials connect`.
pub async fn authorize_url(state: &AppState, id: &str) -> Result<String, StartError> {
    let credential = state.credentials.by_id(id).await.map_err(|e| match e {
        CredentialError::NotFound { .. } => StartError::NotFound(e.to_string()),
        other => StartError::Internal(other.into()),
    })?;
    let type_name = &credential.type_name;
    let connect = runtime_for(state, type_name)
        .and_then(|p| p.oauth2(type_name))
        .ok_or_else(|| {
            StartError::Refused(format!(
                "credential {id} is of type {type_name}; only {} credentials are connected with OAuth2",
                oauth2_types(state)
            ))
        })?;
    let redirect_uri = redirect_uri(&state.settings.public_url);
    let started = pending::start(&state.credentials, id, &redirect_uri, Utc::now())
        .await
        .map_err(|e| StartError::Internal(e.into()))?;
    let url = connect
        .authorize_url(
            &credential,
            &AuthorizeRequest {
                redirect_uri: &redirect_uri,
                state: &started.state,
                code_challenge: &started.challenge,
            },
        )
        .map_err(|e| StartError::Refused(format!("credential {id}: {e}")))?;
    tracing::info!(credential_id = %id, "OAuth2 connect started");
    Ok(url)
}

/// The credential a state names, without consuming the state; `None` when the state does
/// not open (the error path then names no service).
fn credential_of_state(state: &AppState, state_param: &str) -> Option<String> {
    pending::peek(&state.credentials, state_param).ok()
}

/// Completes an attempt from the callback's query; `Ok` carries the credential's id and name
/// and the service's name for the success page. A refused callback stores nothing.
pub async fn complete(
    state: &AppState,
    query: &HashMap<String, String>,
) -> Result<(String, String, String), Failure> {
    let param = |name: &str| {
        query
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    if let Some(error) = param("error") {
        // The attempt is over either way: a genuine state is spent so it cannot be reused.
        let mut provider = None;
        if let Some(s) = param("state") {
            if let Some(id) = credential_of_state(state, s) {
                provider = provider_of(state, &id).await;
            }
            let _ = pending::take(&state.credentials, s, Utc::now()).await;
        }
        let description = param("error_description").unwrap_or_default().to_owned();
        return Err(if error == "access_denied" {
            Failure::AccessDenied {
                provider,
                description,
            }
        } else {
            Failure::Provider {
                provider,
                error: error.to_owned(),
                description,
            }
        });
    }
    let missing: Vec<&str> = ["code", "state"]
        .into_iter()
        .filter(|p| param(p).is_none())
        .collect();
    let (Some(code), Some(state_param)) = (param("code"), param("state")) else {
        return Err(Failure::Missing(missing.join(" and ")));
    };
    let pending = pending::take(&state.credentials, state_param, Utc::now())
        .await
        .map_err(|e| match e {
            StateError::Invalid => Failure::InvalidState,
            StateError::Expired => Failure::Expired,
            StateError::AlreadyUsed => Failure::AlreadyUsed,
            StateError::Database(e) => Failure::Internal(e.into()),
        })?;
    let id = pending.credential_id.as_str();
    let credential = read(state, id).await?;
    let connect = runtime_for(state, &credential.type_name)
        .and_then(|p| p.oauth2(&credential.type_name))
        .ok_or_else(|| {
            Failure::Internal(anyhow::anyhow!(
                "no plugin connects credentials of type {} any more",
                credential.type_name
            ))
        })?;
    let token_data = connect
        .exchange_code(
            &credential,
            &CodeExchange {
                code,
                code_verifier: &pending.verifier,
                redirect_uri: &pending.redirect_uri,
            },
        )
        .await
        .map_err(|e| Failure::Exchange {
            provider: connect.provider().to_owned(),
            error: e,
        })?;
    store_tokens(state, id, token_data).await?;
    Ok((
        pending.credential_id,
        credential.name,
        connect.provider().to_owned(),
    ))
}

async fn read(state: &AppState, id: &str) -> Result<StoredCredential, Failure> {
    state.credentials.by_id(id).await.map_err(|e| match e {
        CredentialError::NotFound { .. } => Failure::CredentialGone,
        other => Failure::Internal(other.into()),
    })
}

/// The service name of credential `id`'s connect strategy.
async fn provider_of(state: &AppState, id: &str) -> Option<String> {
    let credential = state.credentials.by_id(id).await.ok()?;
    let connect: &dyn OAuth2Connect =
        runtime_for(state, &credential.type_name)?.oauth2(&credential.type_name)?;
    Some(connect.provider().to_owned())
}

/// Stores the token data the exchange returned (encrypted), then tells the plugins, so a
/// cached token of the old connection is never used again.
async fn store_tokens(state: &AppState, id: &str, token_data: Value) -> Result<(), Failure> {
    state
        .credentials
        .set_token_data(id, Some(token_data))
        .await
        .map_err(|e| match e {
            credentials::Error::NotFound { .. } => Failure::CredentialGone,
            other => Failure::Internal(other.into()),
        })?;
    state.plugins.credential_changed(id);
    Ok(())
}
