//! [`FakeOrg`]: configure with [`FakeOrgBuilder`], start on a real socket,
//! then seed records, inject faults and read what the org received.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::IntoResponse;
use axum::Router;
use chrono::{DateTime, Utc};
use jsonwebtoken::DecodingKey;
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{ApiError, Error, Result, SfError};
use crate::inspect::{RecordedRequest, RetryAfter, Script};
use crate::schema::{CustomObject, Schema};
use crate::state::{AppState, Auth, Faults, Flow, Inner, OrgConfig};
use crate::store::{format_datetime, Store, WriteCtx};

/// A user of the org.
#[derive(Debug, Clone)]
pub struct User {
    username: String,
    first_name: String,
    last_name: String,
    email: Option<String>,
}

impl User {
    /// A user with names derived from the username (`ada.lovelace@x` -> Ada Lovelace).
    pub fn new(username: &str) -> Self {
        let local = username.split('@').next().unwrap_or(username);
        let mut parts = local
            .split(['.', '_', '-'])
            .filter(|p| !p.is_empty())
            .map(capitalize);
        let first = parts.next().unwrap_or_else(|| "Fake".into());
        let last = parts.next().unwrap_or_else(|| "User".into());
        Self {
            username: username.to_string(),
            first_name: first,
            last_name: last,
            email: None,
        }
    }

    /// Sets the first and last name.
    pub fn name(mut self, first: &str, last: &str) -> Self {
        self.first_name = first.into();
        self.last_name = last.into();
        self
    }

    /// Sets the email (default: the username).
    pub fn email(mut self, email: &str) -> Self {
        self.email = Some(email.into());
        self
    }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// Configures a fake org. Every setting has a default that works for a test.
pub struct FakeOrgBuilder {
    consumer_key: String,
    consumer_secret: SecretString,
    certificate_pem: Option<String>,
    users: Vec<User>,
    pre_authorized: Option<Vec<String>>,
    admin_approval_required: bool,
    client_credentials_user: Option<String>,
    login_url: String,
    my_domain: Option<String>,
    accept_login_audience: bool,
    token_lifetime: Duration,
    daily_limit: u64,
    refresh_token_rotation: bool,
    auto_approve: bool,
    authorize_as: Option<String>,
    callback_urls: Vec<String>,
    custom_objects: Vec<CustomObject>,
    flows: Vec<Flow>,
    seed: usize,
    seed_rng: u64,
    listen: SocketAddr,
    public_url: Option<String>,
    record_limit: usize,
    bulk_polls: u32,
}

impl std::fmt::Debug for FakeOrgBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOrgBuilder")
            .field("consumer_key", &self.consumer_key)
            .field("consumer_secret", &"[redacted]")
            .field(
                "users",
                &self.users.iter().map(|u| &u.username).collect::<Vec<_>>(),
            )
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

impl Default for FakeOrgBuilder {
    fn default() -> Self {
        Self {
            consumer_key: "fake-consumer-key".into(),
            consumer_secret: SecretString::from("fake-consumer-secret"),
            certificate_pem: None,
            users: Vec::new(),
            pre_authorized: None,
            admin_approval_required: false,
            client_credentials_user: None,
            login_url: "https://login.salesforce.com".into(),
            my_domain: None,
            accept_login_audience: true,
            token_lifetime: Duration::from_secs(2 * 3600),
            daily_limit: 100_000,
            refresh_token_rotation: false,
            auto_approve: false,
            authorize_as: None,
            callback_urls: Vec::new(),
            custom_objects: Vec::new(),
            flows: Vec::new(),
            seed: 0,
            seed_rng: 42,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            public_url: None,
            record_limit: 10_000,
            bulk_polls: 1,
        }
    }
}

impl FakeOrgBuilder {
    /// The connected app's consumer key (client id).
    pub fn consumer_key(mut self, key: &str) -> Self {
        self.consumer_key = key.into();
        self
    }

    /// The connected app's consumer secret (client secret).
    pub fn consumer_secret(mut self, secret: &str) -> Self {
        self.consumer_secret = SecretString::from(secret);
        self
    }

    /// The X.509 certificate (PEM) uploaded for the JWT bearer flow.
    pub fn certificate_pem(mut self, pem: &str) -> Self {
        self.certificate_pem = Some(pem.into());
        self
    }

    /// Adds a user. With no users, the org has `user@example.com`.
    pub fn user(mut self, user: User) -> Self {
        self.users.push(user);
        self
    }

    /// Pre-authorizes a user for the app (JWT bearer). Without any call,
    /// every user is pre-authorized.
    pub fn pre_authorize(mut self, username: &str) -> Self {
        self.pre_authorized
            .get_or_insert_with(Vec::new)
            .push(username.into());
        self
    }

    /// Pre-authorizes nobody: JWT logins fail until a user approves the app
    /// on the authorize page (or always, with admin approval required).
    pub fn pre_authorize_none(mut self) -> Self {
        self.pre_authorized = Some(Vec::new());
        self
    }

    /// "Admin approved users are pre-authorized": users not pre-authorized
    /// get `invalid_app_access` instead of "user hasn't approved this consumer".
    pub fn admin_approval_required(mut self, on: bool) -> Self {
        self.admin_approval_required = on;
        self
    }

    /// The Run As user of the client credentials flow.
    pub fn client_credentials_user(mut self, username: &str) -> Self {
        self.client_credentials_user = Some(username.into());
        self
    }

    /// The login URL accepted as JWT `aud` (default `https://login.salesforce.com`).
    pub fn login_url(mut self, url: &str) -> Self {
        self.login_url = url.trim_end_matches('/').into();
        self
    }

    /// A My Domain URL also accepted as JWT `aud`.
    pub fn my_domain(mut self, url: &str) -> Self {
        self.my_domain = Some(url.trim_end_matches('/').into());
        self
    }

    /// Refuse the login URL as `aud`, like orgs created from Spring '26.
    pub fn my_domain_audience_only(mut self) -> Self {
        self.accept_login_audience = false;
        self
    }

    /// How long access tokens live (default 2 hours).
    pub fn token_lifetime(mut self, d: Duration) -> Self {
        self.token_lifetime = d;
        self
    }

    /// Daily API request limit (default 100,000).
    pub fn daily_limit(mut self, n: u64) -> Self {
        self.daily_limit = n;
        self
    }

    /// Issue a new refresh token on every refresh; reusing an old one revokes the grant.
    pub fn refresh_token_rotation(mut self, on: bool) -> Self {
        self.refresh_token_rotation = on;
        self
    }

    /// Approve authorize requests at once, without the Approve/Deny page.
    pub fn auto_approve(mut self, on: bool) -> Self {
        self.auto_approve = on;
        self
    }

    /// The user who approves on the authorize page by default.
    pub fn authorize_as(mut self, username: &str) -> Self {
        self.authorize_as = Some(username.into());
        self
    }

    /// Registers a callback URL; with none, any absolute URL is accepted.
    pub fn callback_url(mut self, url: &str) -> Self {
        self.callback_urls.push(url.into());
        self
    }

    /// Adds a custom object, or custom fields to a standard object (see [`CustomObject::new`]).
    pub fn custom_object(mut self, object: CustomObject) -> Self {
        self.custom_objects.push(object);
        self
    }

    /// Adds an autolaunched flow that echoes its inputs as outputs.
    pub fn flow(mut self, api_name: &str) -> Self {
        self.flows.push(Flow {
            api_name: api_name.into(),
            label: api_name.replace('_', " "),
        });
        self
    }

    /// Creates `n` realistic records per main object at start.
    pub fn seed(mut self, n: usize) -> Self {
        self.seed = n;
        self
    }

    /// The RNG seed for seeded records (default 42).
    pub fn seed_rng(mut self, seed: u64) -> Self {
        self.seed_rng = seed;
        self
    }

    /// The address to listen on (default `127.0.0.1:0`, a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The URL clients reach the org at, when not `http://<listen address>`.
    pub fn public_url(mut self, url: &str) -> Self {
        self.public_url = Some(url.trim_end_matches('/').into());
        self
    }

    /// How many recent requests are kept for `requests()` (default 10,000).
    pub fn record_limit(mut self, n: usize) -> Self {
        self.record_limit = n.max(1);
        self
    }

    /// How many job-info polls a closed Bulk API job answers `InProgress`
    /// before the next one processes it and answers `JobComplete`
    /// (default 1, so a client must poll at least twice; 0 completes on the
    /// first poll).
    pub fn bulk_polls(mut self, n: u32) -> Self {
        self.bulk_polls = n;
        self
    }

    /// Binds the socket, builds the org and starts serving.
    pub async fn start(self) -> Result<FakeOrg> {
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| Error::Bind {
                addr: self.listen.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: self.listen.to_string(),
            source,
        })?;
        let base_url = self
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let state = self.build(base_url.clone())?;
        let app = app(&state);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "fake org server stopped");
            }
        });
        Ok(FakeOrg {
            state,
            base_url,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    fn build(self, base_url: String) -> Result<AppState> {
        let jwt_key = self
            .certificate_pem
            .as_deref()
            .map(decoding_key_from_certificate)
            .transpose()?;
        let schema = Schema::new(&self.custom_objects);
        let mut store = Store::new(schema.objects.len());
        let users = if self.users.is_empty() {
            vec![User::new("user@example.com")]
        } else {
            self.users
        };
        let now = Utc::now();
        let org_id = crate::ids::to_18("00DFk0000000001");
        let user_idx = schema.index_of("User").expect("User is a standard object");
        let mut user_map = HashMap::new();
        for (i, u) in users.iter().enumerate() {
            let id = crate::ids::make("005", i as u64 + 1);
            let alias: String = u
                .username
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect();
            let body = json!({
                "Id": id, "Username": u.username, "FirstName": u.first_name, "LastName": u.last_name,
                "Email": u.email.clone().unwrap_or_else(|| u.username.clone()), "Alias": alias,
                "CommunityNickname": u.username.split('@').next().unwrap_or_default(),
            });
            let ctx = WriteCtx::at(now, &id, true);
            let body = body.as_object().cloned().unwrap_or_default();
            store
                .create(&schema, user_idx, &body, &ctx, &mut Vec::new())
                .map_err(|e| Error::InvalidConfig {
                    field: format!("user {}", u.username),
                    reason: e.message,
                })?;
            user_map.insert(u.username.to_ascii_lowercase(), (id, u.username.clone()));
        }
        let known = |name: &str, field: &str| -> Result<String> {
            if user_map.contains_key(&name.to_ascii_lowercase()) {
                Ok(name.to_ascii_lowercase())
            } else {
                Err(Error::InvalidConfig {
                    field: field.into(),
                    reason: format!("{name:?} is not one of the org's users"),
                })
            }
        };
        let pre_authorized: HashSet<String> = match &self.pre_authorized {
            None => user_map.keys().cloned().collect(),
            Some(list) => list
                .iter()
                .map(|u| known(u, "pre_authorize"))
                .collect::<Result<_>>()?,
        };
        if let Some(u) = &self.client_credentials_user {
            known(u, "client_credentials_user")?;
        }
        if let Some(u) = &self.authorize_as {
            known(u, "authorize_as")?;
        }
        if self.seed > 0 {
            let first_user = user_map
                .values()
                .map(|(id, _)| id.clone())
                .min()
                .unwrap_or_default();
            let ctx = WriteCtx::at(now, &first_user, false);
            crate::seed::seed(&mut store, &schema, self.seed, self.seed_rng, &ctx);
        }
        let mut audiences = vec![base_url.clone()];
        if self.accept_login_audience {
            audiences.push(self.login_url.clone());
        }
        audiences.extend(self.my_domain.clone());
        let config = OrgConfig {
            consumer_key: self.consumer_key,
            consumer_secret: self.consumer_secret,
            jwt_key,
            org_id,
            users: user_map,
            pre_authorized,
            admin_approval_required: self.admin_approval_required,
            client_credentials_user: self.client_credentials_user,
            audiences,
            token_lifetime: self.token_lifetime,
            refresh_token_rotation: self.refresh_token_rotation,
            auto_approve: self.auto_approve,
            authorize_as: self.authorize_as,
            callback_urls: self.callback_urls,
            flows: self.flows,
        };
        Ok(AppState(Arc::new(Inner {
            config,
            base_url,
            schema,
            store: RwLock::new(store),
            auth: RwLock::new(Auth::default()),
            faults: Mutex::new(Faults::default()),
            api_used: AtomicU64::new(0),
            api_max: AtomicU64::new(self.daily_limit),
            requests: Mutex::new(VecDeque::new()),
            record_limit: self.record_limit,
            counters: Mutex::new(BTreeMap::new()),
            scripts: Mutex::new(Vec::new()),
            cursors: Mutex::new(HashMap::new()),
            cursor_seq: AtomicU64::new(0),
            clock_offset_ms: AtomicI64::new(0),
            bulk: Mutex::new(Default::default()),
            bulk_polls: AtomicU32::new(self.bulk_polls),
            token_hold: tokio::sync::watch::Sender::new(false),
        })))
    }
}

/// The RSA public key inside an X.509 certificate, for RS256 verification.
fn decoding_key_from_certificate(pem: &str) -> Result<DecodingKey> {
    let bad = |reason: String| Error::InvalidConfig {
        field: "certificate".into(),
        reason,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| bad(format!("expected a PEM X.509 certificate: {e}")))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| bad(format!("expected an X.509 certificate: {e}")))?;
    let spki = cert.public_key();
    // For RSA the subject public key bits are the PKCS#1 RSAPublicKey DER
    // that jsonwebtoken expects.
    Ok(DecodingKey::from_rsa_der(&spki.subject_public_key.data))
}

/// The whole HTTP surface: OAuth and REST behind the recording layer, and
/// the unrecorded `/__fake` inspection routes.
fn app(st: &AppState) -> Router {
    Router::new()
        .merge(crate::oauth::router())
        .merge(crate::rest::router(st))
        .fallback(|| async { ApiError::Rest(SfError::not_found()).into_response() })
        .layer(from_fn_with_state(st.clone(), crate::inspect::observe))
        .merge(crate::inspect::router())
        // The recording layer already bounds bodies; axum's own 2 MB
        // default would refuse Bulk API uploads and large files.
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::inspect::MAX_BODY,
        ))
        .layer(from_fn_with_state(st.clone(), clock_headers))
        .with_state(st.clone())
}

/// `Date` from the org's clock, as Salesforce's servers send theirs: a client reading the
/// org's time (a polling trigger judging which stamps have settled) sees `advance_clock`.
/// A 503 also gets the `Retry-After` set by the test, an HTTP-date one reckoned from the
/// same instant as `Date`.
async fn clock_headers(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut res = next.run(req).await;
    let now = st.now();
    if let Ok(v) = axum::http::HeaderValue::from_str(&crate::inspect::http_date(now)) {
        res.headers_mut().insert(axum::http::header::DATE, v);
    }
    let retry_after = st.faults().retry_after;
    if let (StatusCode::SERVICE_UNAVAILABLE, Some(r)) = (res.status(), retry_after) {
        if let Ok(v) = axum::http::HeaderValue::from_str(&r.header_value(now)) {
            res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
    }
    res
}

/// Makes every access token expire now (refresh tokens keep working).
pub(crate) fn expire_tokens(st: &AppState) {
    let now = st.now_ms();
    for s in st.auth_mut().tokens.values_mut() {
        s.expires_at_ms = now - 1;
    }
}

/// Revokes every access token and every grant (refresh tokens die too).
pub(crate) fn revoke_tokens(st: &AppState) {
    let mut auth = st.auth_mut();
    auth.tokens.clear();
    let grants: Vec<u64> = auth.grants.keys().copied().collect();
    for g in grants {
        auth.revoke_grant(g);
    }
}

/// A system write stamped at `at`, visible at once or held back until committed.
pub(crate) fn ctx_at(st: &AppState, at: DateTime<Utc>, uncommitted: bool) -> WriteCtx {
    let mut ctx = WriteCtx::at(at, &default_user_id(st), true);
    ctx.clock_ms = st.now_ms();
    ctx.visible_at_ms = if uncommitted {
        crate::store::UNCOMMITTED
    } else {
        i64::MIN
    };
    ctx
}

/// Creates a record as a test places it (read-only fields allowed).
pub(crate) fn insert_record(
    st: &AppState,
    object: &str,
    fields: Value,
    ctx: &WriteCtx,
) -> Result<String> {
    let idx = st
        .schema
        .index_of(object)
        .ok_or_else(|| Error::UnknownObject(object.into()))?;
    let name = st.schema.objects[idx].name.clone();
    let Value::Object(body) = fields else {
        return Err(Error::InvalidRecord {
            object: name,
            code: "JSON_PARSER_ERROR".into(),
            message: "expected a JSON object of field names to values".into(),
        });
    };
    st.store_mut()
        .create(&st.schema, idx, &body, ctx, &mut Vec::new())
        .map_err(|e| Error::InvalidRecord {
            object: name,
            code: e.code.into(),
            message: e.message,
        })
}

/// Updates a record as a test places it (read-only fields allowed).
pub(crate) fn update_record(st: &AppState, id: &str, fields: Value, ctx: &WriteCtx) -> Result<()> {
    let object = st
        .store()
        .get(id)
        .map(|r| r.object)
        .ok_or_else(|| Error::UnknownRecord(id.into()))?;
    let name = st.schema.objects[object].name.clone();
    let Value::Object(body) = fields else {
        return Err(Error::InvalidRecord {
            object: name,
            code: "JSON_PARSER_ERROR".into(),
            message: "expected a JSON object of field names to values".into(),
        });
    };
    st.store_mut()
        .update(&st.schema, object, id, &body, ctx, &mut Vec::new())
        .map(|_| ())
        .map_err(|e| Error::InvalidRecord {
            object: name,
            code: e.code.into(),
            message: e.message,
        })
}

/// The first user by id: the owner of library-made records.
pub(crate) fn default_user_id(st: &AppState) -> String {
    st.config
        .users
        .values()
        .map(|(id, _)| id.clone())
        .min()
        .unwrap_or_default()
}

/// A running fake org. Dropping it stops the server.
pub struct FakeOrg {
    state: AppState,
    base_url: String,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeOrg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeOrg")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl FakeOrg {
    /// A builder with test-friendly defaults.
    pub fn builder() -> FakeOrgBuilder {
        FakeOrgBuilder::default()
    }

    /// `http://127.0.0.1:PORT`: the login host and the instance URL at once.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The socket address the org listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `{base_url}/services/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!("{}/services/oauth2/token", self.base_url)
    }

    /// The org id (18 characters).
    pub fn org_id(&self) -> &str {
        &self.state.config.org_id
    }

    /// The id of a user, by username.
    pub fn user_id(&self, username: &str) -> Option<String> {
        self.state.config.user(username).map(|(id, _)| id.clone())
    }

    /// Inserts a record as seeding does: validated like the API, but
    /// read-only fields (`CreatedDate`, `LastModifiedDate`, `OwnerId`...) may be
    /// set, so tests can place records in time. Returns the id.
    pub fn insert(&self, object: &str, fields: Value) -> Result<String> {
        let mut ctx = self.state.write_ctx(&self.default_user_id());
        ctx.system = true;
        insert_record(&self.state, object, fields, &ctx)
    }

    /// Inserts a record stamped at `at`: `CreatedDate`, `LastModifiedDate`
    /// and `SystemModstamp` are `at` unless `fields` sets them. Visible to
    /// queries at once, whatever the commit delay. Many records may share
    /// one stamp; `ORDER BY ..., Id` then follows creation order.
    pub fn insert_at(&self, object: &str, fields: Value, at: DateTime<Utc>) -> Result<String> {
        let ctx = ctx_at(&self.state, at, false);
        insert_record(&self.state, object, fields, &ctx)
    }

    /// Inserts a record stamped at `at` (its transaction's start) that
    /// queries, `queryAll` and `/updated` do not see until [`FakeOrg::commit`]:
    /// the "stamped before it is readable" case a polling trigger must
    /// cover with its overlap window. A retrieve by id still finds it.
    pub fn insert_uncommitted(
        &self,
        object: &str,
        fields: Value,
        at: DateTime<Utc>,
    ) -> Result<String> {
        let ctx = ctx_at(&self.state, at, true);
        insert_record(&self.state, object, fields, &ctx)
    }

    /// Updates fields of a stored record as seeding does (timestamps may be set).
    pub fn update(&self, id: &str, fields: Value) -> Result<()> {
        let mut ctx = self.state.write_ctx(&self.default_user_id());
        ctx.system = true;
        update_record(&self.state, id, fields, &ctx)
    }

    /// Updates a record with `LastModifiedDate` and `SystemModstamp` set to
    /// `at` (unless `fields` sets them), visible to queries at once.
    pub fn update_at(&self, id: &str, fields: Value, at: DateTime<Utc>) -> Result<()> {
        let ctx = ctx_at(&self.state, at, false);
        update_record(&self.state, id, fields, &ctx)
    }

    /// Updates a record stamped at `at`; queries keep seeing the previous
    /// version until [`FakeOrg::commit`].
    pub fn update_uncommitted(&self, id: &str, fields: Value, at: DateTime<Utc>) -> Result<()> {
        let ctx = ctx_at(&self.state, at, true);
        update_record(&self.state, id, fields, &ctx)
    }

    /// Releases a held-back write (from `insert_uncommitted`,
    /// `update_uncommitted` or the commit delay): queries see it from now
    /// on, with the timestamps it was stamped with.
    pub fn commit(&self, id: &str) -> Result<()> {
        self.state
            .store_mut()
            .commit(id)
            .map_err(|_| Error::UnknownRecord(id.into()))
    }

    /// Creates `n` realistic records per main object (as `--seed`).
    pub fn seed(&self, n: usize, rng_seed: u64) {
        let ctx = WriteCtx::at(self.state.now(), &self.default_user_id(), false);
        crate::seed::seed(
            &mut self.state.store_mut(),
            &self.state.schema,
            n,
            rng_seed,
            &ctx,
        );
    }

    /// A stored record with all its fields (deleted ones included, with
    /// `IsDeleted: true`), as a retrieve call would show it.
    pub fn record(&self, id: &str) -> Option<Value> {
        let store = self.state.store();
        let rec = store.get(id)?;
        let name = &self.state.schema.objects[rec.object].name;
        Some(crate::rest::record_json(
            name,
            &rec.fields,
            crate::rest::DEFAULT_VERSION,
            None,
        ))
    }

    /// How many records of `object` exist (deleted ones included).
    pub fn count(&self, object: &str) -> usize {
        self.state
            .schema
            .index_of(object)
            .map(|i| self.state.store().count(i))
            .unwrap_or(0)
    }

    fn default_user_id(&self) -> String {
        default_user_id(&self.state)
    }

    /// Every recorded request, oldest first (the most recent `record_limit`).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .lock(&self.state.requests)
            .iter()
            .cloned()
            .collect()
    }

    /// Forgets recorded requests.
    pub fn clear_requests(&self) {
        self.state.lock(&self.state.requests).clear();
    }

    /// Calls per endpoint, keyed `"METHOD /route/{template}"`.
    pub fn counters(&self) -> BTreeMap<String, u64> {
        self.state.lock(&self.state.counters).clone()
    }

    /// Calls to one endpoint, e.g. `counter("POST /services/oauth2/token")`.
    pub fn counter(&self, endpoint: &str) -> u64 {
        self.state
            .lock(&self.state.counters)
            .get(endpoint)
            .copied()
            .unwrap_or(0)
    }

    /// Makes the next call matching `method` and `path_and_query` (and every
    /// later one) answer `status` with `body` (`Value::Null`: no body),
    /// before any normal handling; still recorded. A path without
    /// `/services/` is matched below any `/services/data/vXX.X`; a query, when
    /// given, must match with whitespace runs collapsed. Later scripts win.
    pub fn script(&self, method: &str, path_and_query: &str, status: u16, body: Value) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        self.state.lock(&self.state.scripts).push(Script::new(
            method,
            path_and_query,
            status,
            body,
        ));
    }

    /// Scripts every step of a list of expected calls, in the format of
    /// n8n's compatibility suite (`expected-requests.json`, see the
    /// `expected` module): each `(method, path, soql)` answers its `reply`,
    /// with `fixture` files read below `base_dir`. Returns how many steps
    /// were scripted. Check afterwards with [`FakeOrg::verify_steps`].
    pub fn script_steps(&self, steps: &Value, base_dir: &std::path::Path) -> Result<usize> {
        let list = crate::expected::scripts(steps, base_dir)?;
        let n = list.len();
        for s in list {
            self.script(&s.method, &s.path_and_query, s.status, s.body);
        }
        Ok(n)
    }

    /// Scripts one workflow of an `expected-requests.json` file (its
    /// `workflows.<name>` steps, fixtures relative to the file).
    pub fn script_workflow(
        &self,
        expected_requests: &std::path::Path,
        workflow: &str,
    ) -> Result<usize> {
        let bad = |reason: String| Error::InvalidConfig {
            field: expected_requests.display().to_string(),
            reason,
        };
        let raw = std::fs::read_to_string(expected_requests).map_err(|e| bad(e.to_string()))?;
        let doc: Value = serde_json::from_str(&raw).map_err(|e| bad(e.to_string()))?;
        let steps = doc
            .get("workflows")
            .and_then(|w| w.get(workflow))
            .ok_or_else(|| bad(format!("no workflows.{workflow:?} in the file")))?;
        let base = expected_requests
            .parent()
            .unwrap_or_else(|| std::path::Path::new("."));
        self.script_steps(steps, base)
    }

    /// Compares the REST calls received (in order) with the steps: method,
    /// path below the version, SOQL with whitespace collapsed, JSON body and
    /// `Authorization`. Returns one line per difference; empty means the
    /// client sent exactly what was expected.
    pub fn verify_steps(&self, steps: &Value) -> Vec<String> {
        crate::expected::verify(steps, &self.requests())
    }

    /// Removes all scripted answers.
    pub fn clear_scripts(&self) {
        self.state.lock(&self.state.scripts).clear();
    }

    /// Mints an access token for a user without an OAuth flow.
    pub fn issue_token(&self, username: &str) -> Result<String> {
        let (id, name) = self
            .state
            .config
            .user(username)
            .cloned()
            .ok_or_else(|| Error::UnknownUser(username.into()))?;
        Ok(self.state.mint_access_token(&id, &name, None))
    }

    /// Accepts a given string as an access token for a user (e.g. a token
    /// already cached in a workflow's credential).
    pub fn accept_token(&self, token: &str, username: &str) -> Result<()> {
        let (id, name) = self
            .state
            .config
            .user(username)
            .cloned()
            .ok_or_else(|| Error::UnknownUser(username.into()))?;
        let expires_at_ms =
            self.state.now_ms() + self.state.config.token_lifetime.as_millis() as i64;
        self.state.auth_mut().tokens.insert(
            token.to_string(),
            crate::state::Session {
                user_id: id,
                username: name,
                expires_at_ms,
                grant: None,
            },
        );
        Ok(())
    }

    /// Revokes every access token and refresh token.
    pub fn revoke_all_tokens(&self) {
        revoke_tokens(&self.state);
    }

    /// Expires every access token now; refresh tokens keep working.
    pub fn expire_tokens_now(&self) {
        expire_tokens(&self.state);
    }

    /// Holds every token request (any grant) from now on: each is counted and recorded
    /// (see [`FakeOrg::counter`]) and then waits, unanswered, until
    /// [`FakeOrg::release_token_requests`]. A test keeps a sign-in in flight this way for
    /// exactly as long as it needs, with no latency to guess.
    pub fn hold_token_requests(&self) {
        self.state.token_hold.send_replace(true);
    }

    /// Answers the held token requests, and no longer holds new ones.
    pub fn release_token_requests(&self) {
        self.state.token_hold.send_replace(false);
    }

    /// Delays every response by `d`.
    pub fn set_latency(&self, d: Duration) {
        self.state.faults().latency = d;
    }

    /// The next `n` REST calls answer 503 `SERVER_UNAVAILABLE`.
    pub fn fail_next_calls(&self, n: u32) {
        self.state.faults().unavailable = n;
    }

    /// The `n`th query call from now (`/query` or `/queryAll`; 1 = the next)
    /// answers 503 `SERVER_UNAVAILABLE`. Page fetches do not count. May be
    /// armed several times for several calls.
    pub fn fail_nth_query(&self, n: u32) {
        self.state.faults().queries.arm(n);
    }

    /// The `n`th `nextRecordsUrl` page fetch from now (1 = the next) answers
    /// 503 `SERVER_UNAVAILABLE`; the cursor survives, so the same URL works
    /// when retried.
    pub fn fail_nth_page(&self, n: u32) {
        self.state.faults().pages.arm(n);
    }

    /// Sets how many job-info polls a closed Bulk API job answers
    /// `InProgress` before completing (see [`FakeOrgBuilder::bulk_polls`]).
    pub fn set_bulk_polls(&self, n: u32) {
        self.state.bulk_polls.store(n, Ordering::Relaxed);
    }

    /// The next `n` record writes fail with `UNABLE_TO_LOCK_ROW` (Bulk API
    /// rows included, one per row).
    pub fn lock_next_writes(&self, n: u32) {
        self.state.faults().lock_rows = n;
    }

    /// Writes become visible to queries only `d` after their timestamps.
    pub fn set_commit_delay(&self, d: Duration) {
        self.state.faults().commit_delay = d;
    }

    /// Every 503 the org answers from now on (the injected ones of
    /// [`FakeOrg::fail_next_calls`], [`FakeOrg::fail_nth_query`],
    /// [`FakeOrg::fail_nth_page`], and scripted ones) carries this `Retry-After`;
    /// `None` (or [`FakeOrg::clear_faults`]) stops it.
    pub fn set_retry_after(&self, r: Option<RetryAfter>) {
        self.state.faults().retry_after = r;
    }

    /// Clears latency, pending 503s (query and page ones too), lock-row
    /// failures, commit delay and `Retry-After`.
    pub fn clear_faults(&self) {
        *self.state.faults() = Faults::default();
    }

    /// Sets API requests used today; at the limit, calls answer 403 `REQUEST_LIMIT_EXCEEDED`.
    pub fn set_api_usage(&self, used: u64) {
        self.state.api_used.store(used, Ordering::Relaxed);
    }

    /// Sets the daily API request limit.
    pub fn set_daily_limit(&self, max: u64) {
        self.state.api_max.store(max, Ordering::Relaxed);
    }

    /// `(used, max)` API requests today.
    pub fn api_usage(&self) -> (u64, u64) {
        (
            self.state.api_used.load(Ordering::Relaxed),
            self.state.api_max.load(Ordering::Relaxed),
        )
    }

    /// Moves the org's clock forward by `d` (it never goes back): token and
    /// code expiry, server-set timestamps, commit-delay visibility and JWT
    /// `exp` checks all read it. Lets a test reach an expiry without sleeping.
    pub fn advance_clock(&self, d: Duration) {
        self.state
            .clock_offset_ms
            .fetch_add(d.as_millis() as i64, Ordering::Relaxed);
    }

    /// The org's current time (the machine's, plus every `advance_clock`).
    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.state.now()
    }

    /// Salesforce's timestamp format for `t` (`2025-03-30T17:57:34.000+0000`).
    pub fn format_time(t: chrono::DateTime<Utc>) -> String {
        format_datetime(t)
    }

    /// Stops the server and waits for it to finish.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            // Keep-alive connections can hold graceful shutdown open; a test
            // should not wait on them.
            let mut task = task;
            if tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for FakeOrg {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
