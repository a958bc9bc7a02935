use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tower::ServiceExt;
use vpp_server::{AppState, ServerSettings};
use vpp_store::Store;

pub struct TestApp {
    pub router: Router,
    pub store: Arc<Store>,
    /// The server's state, for what a test must reach behind the API.
    pub state: AppState,
    pub url: String,
    /// Access token of the admin every helper acts as.
    pub token: String,
    sqlite_file: Option<PathBuf>,
}

pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";
/// The HMAC secret tests run with, so they can forge tokens.
pub const JWT_SECRET: &str = "test-secret-0123456789abcdef0123456789";

static PG_CLEANED: OnceCell<()> = OnceCell::const_new();

/// Drops the schemas left by earlier test runs, once per process.
async fn clean_pg(base: &str) {
    PG_CLEANED
        .get_or_init(|| async {
            let pool = sqlx::PgPool::connect(base).await.expect("connect to test PostgreSQL");
            let schemas: Vec<(String,)> =
                sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'vpptest_%'")
                    .fetch_all(&pool)
                    .await
                    .expect("list schemas");
            for (s,) in schemas {
                let _ =
                    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {s} CASCADE"))).execute(&pool).await;
            }
            pool.close().await;
        })
        .await;
}

impl TestApp {
    pub async fn new() -> Self {
        Self::with_settings(ServerSettings::default()).await
    }

    pub async fn with_settings(mut settings: ServerSettings) -> Self {
        settings.auth.jwt_secret = Some(JWT_SECRET.into());
        // Server errors are logged; show them in failing tests' output.
        let _ = tracing_subscriber::fmt().with_test_writer().with_env_filter("vpp_server=error").try_init();
        let id = uuid::Uuid::now_v7().simple().to_string();
        let (url, sqlite_file) = match std::env::var("VPP_TEST_DATABASE_URL") {
            Ok(base) if base.starts_with("postgres") => {
                clean_pg(&base).await;
                let schema = format!("vpptest_{id}");
                let pool = sqlx::PgPool::connect(&base).await.expect("connect to test PostgreSQL");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&pool)
                    .await
                    .expect("schema");
                pool.close().await;
                let sep = if base.contains('?') { '&' } else { '?' };
                (format!("{base}{sep}options=-c%20search_path%3D{schema}"), None)
            }
            _ => {
                let file = std::env::temp_dir().join(format!("vpp-test-{id}.db"));
                (format!("sqlite://{}", file.display()), Some(file))
            }
        };
        let store = Arc::new(Store::connect(&url).await.expect("connect"));
        store.migrate().await.expect("migrate");
        vpp_app::users::bootstrap_admin(&store, "admin", Some(ADMIN_PASSWORD)).await.expect("admin");
        let state = AppState::new(store.clone(), settings).await.expect("state");
        let router = vpp_server::router(state.clone());
        let mut app = Self { router, store, state, url, token: String::new(), sqlite_file };
        app.token = app.login("admin", ADMIN_PASSWORD).await;
        app
    }

    /// Logs in and returns the access token.
    pub async fn login(&self, username: &str, password: &str) -> String {
        let (s, body) =
            self.post_as(None, "/api/v1/auth/login", json!({"username": username, "password": password})).await;
        assert_eq!(s, StatusCode::OK, "login {username}: {body}");
        body["access_token"].as_str().expect("token").to_string()
    }

    /// Creates a user with `role` (named after it) and returns their access token.
    pub async fn token_for(&self, role: &str) -> String {
        let password = format!("{role}-password-for-tests");
        let (s, body) =
            self.post("/api/v1/auth/users", json!({"username": role, "password": password, "role": role})).await;
        assert!(s == StatusCode::CREATED || s == StatusCode::CONFLICT, "{body}");
        self.login(role, &password).await
    }

    /// Logs in a new `asset_owner` user bound to `owner`.
    pub async fn owner_token(&self, username: &str, owner: &str) -> String {
        let password = format!("{username}-password-for-tests");
        let (s, body) = self
            .post(
                "/api/v1/auth/users",
                json!({"username": username, "password": password, "role": "asset_owner", "asset_owner": owner}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{body}");
        self.login(username, &password).await
    }

    /// POST JSON with the given credential.
    pub async fn post_as(&self, credential: Option<&str>, path: &str, body: Value) -> (StatusCode, Value) {
        let ((s, v, _), _) = self
            .request_as(credential, Method::POST, path, Some("application/json"), body.to_string().into_bytes())
            .await;
        (s, v)
    }

    /// GET with the given credential.
    pub async fn get_as(&self, credential: Option<&str>, path: &str) -> (StatusCode, Value) {
        let ((s, v, _), _) = self.request_as(credential, Method::GET, path, None, vec![]).await;
        (s, v)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value, String) {
        let token = self.token.clone();
        self.request_as(Some(&token), method, path, content_type, body).await.0
    }

    /// A request with the given bearer credential (or none); also returns the headers.
    pub async fn request_as(
        &self,
        credential: Option<&str>,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> ((StatusCode, Value, String), axum::http::HeaderMap) {
        self.request_with(credential, method, path, content_type, body, &[]).await
    }

    /// A request as `request_as` makes it, with more headers.
    async fn request_with(
        &self,
        credential: Option<&str>,
        method: Method,
        path: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
        headers: &[(header::HeaderName, &str)],
    ) -> ((StatusCode, Value, String), axum::http::HeaderMap) {
        let mut builder = Request::builder().method(method).uri(path);
        for (name, value) in headers {
            builder = builder.header(name, *value);
        }
        if let Some(ct) = content_type {
            builder = builder.header(header::CONTENT_TYPE, ct);
        }
        if let Some(c) = credential.filter(|c| !c.is_empty()) {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {c}"));
        }
        let response =
            self.router.clone().oneshot(builder.body(Body::from(body)).expect("request")).await.expect("response");
        let status = response.status();
        let headers = response.headers().clone();
        let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let value =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        ((status, value, ct), headers)
    }

    /// Logs in as if from the peer `peer` (with `forwarded` as its
    /// `X-Forwarded-For`, if any); returns the status and the answer.
    pub async fn login_from(
        &self,
        peer: &str,
        forwarded: Option<&str>,
        username: &str,
        password: &str,
    ) -> (StatusCode, Value) {
        let addr: std::net::SocketAddr = format!("{peer}:40000").parse().expect("peer address");
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .extension(axum::extract::ConnectInfo(addr));
        if let Some(f) = forwarded {
            builder = builder.header("x-forwarded-for", f);
        }
        let body = json!({"username": username, "password": password}).to_string();
        let response =
            self.router.clone().oneshot(builder.body(Body::from(body)).expect("request")).await.expect("response");
        let status = response.status();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    /// Waits for a background import to end and returns its job.
    pub async fn finished_job(&self, job: &Value) -> Value {
        let id = job["id"].as_str().expect("a job id");
        for _ in 0..600 {
            let (s, j) = self.get(&format!("/api/v1/vpp/import-jobs/{id}")).await;
            assert_eq!(s, StatusCode::OK, "{j}");
            if j["state"] != "running" {
                return j;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("import job {id} still running after 30 s");
    }

    /// A request as admin with `Accept-Language: {lang}` (and a JSON body, if any).
    pub async fn send_in(&self, lang: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let content_type = body.as_ref().map(|_| "application/json");
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let token = self.token.clone();
        let headers = [(header::ACCEPT_LANGUAGE, lang)];
        let ((s, v, _), _) = self.request_with(Some(&token), method, path, content_type, bytes, &headers).await;
        (s, v)
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        let (s, v, _) = self.request(Method::GET, path, None, vec![]).await;
        (s, v)
    }

    pub async fn send(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        let (s, v, ct) = self.request(method, path, Some("application/json"), body.to_string().into_bytes()).await;
        if !s.is_success() {
            assert_eq!(ct, "application/problem+json", "errors are problem JSON: {v}");
        }
        (s, v)
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, body).await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::PUT, path, body).await
    }

    pub async fn delete(&self, path: &str) -> StatusCode {
        self.request(Method::DELETE, path, None, vec![]).await.0
    }

    /// Id of the preset template of `resource_type`.
    pub async fn template_id(&self, resource_type: &str) -> String {
        let (s, body) = self.get(&format!("/api/v1/vpp/resource-templates?resource_type={resource_type}")).await;
        assert_eq!(s, StatusCode::OK, "{body}");
        body["items"][0]["id"].as_str().expect("template").to_string()
    }

    /// Creates a resource from the preset of `resource_type` and returns its JSON.
    pub async fn create_resource(&self, resource_type: &str, name: &str, extra: Value) -> Value {
        let mut body = json!({
            "template_id": self.template_id(resource_type).await,
            "name": name,
            "status": "ONLINE",
            "location": {"lat": 52.5, "lon": 13.4, "timezone": "Europe/Berlin"},
            "device_address": format!("modbus://127.0.0.1:15020/{name}"),
        });
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        let (s, r) = self.post("/api/v1/vpp/resource-instances", body).await;
        assert_eq!(s, StatusCode::CREATED, "{r}");
        r
    }

    /// A generator with explicit limits and cost (a diesel genset).
    pub async fn generator(&self, name: &str, max_kw: f64, min_kw: f64, cost: f64) -> String {
        let r = self
            .create_resource(
                "DIESEL_GENERATOR",
                name,
                json!({"parameters": {"rated_kw": max_kw, "min_stable_kw": min_kw}, "marginal_cost": cost}),
            )
            .await;
        r["id"].as_str().expect("id").to_string()
    }

    /// A battery of `kwh` and `kw`, with the default 10..90 % SOC window and 100 % efficiency.
    pub async fn battery(&self, name: &str, kwh: f64, kw: f64, cost: f64) -> String {
        let r = self
            .create_resource(
                "BATTERY",
                name,
                json!({"parameters": {"usable_energy_kwh": kwh, "max_charge_kw": kw, "max_discharge_kw": kw, "round_trip_efficiency": 1.0}, "marginal_cost": cost}),
            )
            .await;
        r["id"].as_str().expect("id").to_string()
    }

    /// Creates the power series of `owner_id` (a `resource` or a `vpp`) and returns its id.
    pub async fn power_series(&self, owner_kind: &str, owner_id: &str, name: &str) -> String {
        let (s, series) = self
            .post(
                "/api/v1/vpp/series",
                json!({"name": name, "owner_kind": owner_kind, "owner_id": owner_id, "quantity": "power"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{series}");
        series["id"].as_str().expect("id").to_string()
    }

    pub async fn telemetry(&self, id: &str, samples: Value) -> (StatusCode, Value) {
        self.post(&format!("/api/v1/vpp/resource-instances/{id}/telemetry"), json!({"samples": samples})).await
    }

    pub async fn set_status(&self, id: &str, status: &str) {
        let (s, b) = self
            .put(&format!("/api/v1/vpp/resource-instances/{id}/status"), json!({"status": status, "reason": "test"}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }

    pub async fn vpp(&self, name: &str, members: Value) -> String {
        let (s, v) =
            self.post("/api/v1/vpp/vpps", json!({"name": name, "market_type": "SPOT", "members": members})).await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().expect("id").to_string()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(file) = &self.sqlite_file {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
    }
}

/// The field named by a problem response.
pub fn field(problem: &Value) -> &str {
    problem["field"].as_str().unwrap_or("")
}

pub fn now_rfc3339() -> String {
    jiff::Timestamp::now().to_string()
}
