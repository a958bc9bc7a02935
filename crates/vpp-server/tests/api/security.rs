use axum::http::{Method, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use vpp_domain::auth::{Permission, Role};
use vpp_server::auth::rules::{Access, RULES, rule_for};

use crate::helpers::{ADMIN_PASSWORD, JWT_SECRET, TestApp, field, now_rfc3339};

/// Every documented route and method.
async fn documented_routes(app: &TestApp) -> Vec<(Method, String)> {
    let (_, doc) = app.get("/api/v1/openapi.json").await;
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if let Ok(m) = method.to_uppercase().parse::<Method>() {
                routes.push((m, path.clone()));
            }
        }
    }
    routes
}

#[tokio::test]
async fn every_route_has_a_rule_and_every_rule_a_route() {
    let app = TestApp::new().await;
    let routes = documented_routes(&app).await;
    for (method, path) in &routes {
        assert!(rule_for(method, path).is_some(), "{method} {path} has no access rule");
    }
    // The OCPP websocket is not a REST operation: it has its rule but no place in the OpenAPI document.
    for rule in RULES.iter().filter(|r| r.path != "/ocpp/{station_id}") {
        assert!(
            routes.iter().any(|(m, p)| *m == rule.method && p == rule.path),
            "rule {} {} has no route",
            rule.method,
            rule.path
        );
    }
}

#[tokio::test]
async fn route_by_role_matrix_is_enforced() {
    // Every route is called without credentials: more than the anonymous
    // budget of one address allows (tested in abuse.rs).
    let mut settings = vpp_server::ServerSettings::default();
    settings.auth.anonymous_burst = 10_000;
    let app = TestApp::with_settings(settings).await;
    let mut tokens = vec![(Role::Admin, app.token.clone())];
    for role in [Role::Operator, Role::Trader, Role::Analyst, Role::Viewer] {
        tokens.push((role, app.token_for(role.as_str()).await));
    }
    tokens.push((Role::AssetOwner, app.owner_token("owner", "Bürgerwind Nord eG").await));
    let routes = documented_routes(&app).await;
    assert!(routes.len() >= 40, "{} routes", routes.len());
    for (method, pattern) in routes {
        let rule = rule_for(&method, &pattern).unwrap();
        // Fill path parameters with ids that do not exist: allowed calls then
        // answer 404 or 422 and change nothing.
        let path = pattern.replace("{id}", "no-such-id").replace("{instruction_id}", "no-such-id");
        // Event streams run until the client leaves; one event is enough here.
        let path = if pattern.starts_with("/api/v1/vpp/events/") { format!("{path}?count=1") } else { path };
        let body = if method == Method::GET { vec![] } else { b"{}".to_vec() };
        let ct = (method != Method::GET).then_some("application/json");
        let ((anon, _, _), _) = app.request_as(None, method.clone(), &path, ct, body.clone()).await;
        match rule.access {
            Access::Public => assert_ne!(anon, StatusCode::UNAUTHORIZED, "{method} {pattern} is public"),
            _ => assert_eq!(anon, StatusCode::UNAUTHORIZED, "{method} {pattern} without credentials"),
        }
        for (role, token) in &tokens {
            let ((status, body_out, _), _) = app.request_as(Some(token), method.clone(), &path, ct, body.clone()).await;
            let allowed = match rule.access {
                Access::Public | Access::Authenticated => true,
                Access::Permission(p) => role.allows(p),
            };
            if allowed {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{} {method} {pattern}: {status} {body_out}",
                    role.as_str()
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{} {method} {pattern}: {body_out}", role.as_str());
            }
        }
    }
}

/// An HS256 token signed with `secret`.
fn forge(claims: &Value, secret: &str) -> String {
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256), claims, &key).unwrap()
}

/// An unsigned token with `alg: none`.
fn forge_unsigned(claims: &Value) -> String {
    let head = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT"}).to_string());
    format!("{head}.{}.", URL_SAFE_NO_PAD.encode(claims.to_string()))
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401() {
    let app = TestApp::new().await;
    let viewer = app.token_for("viewer").await;
    let (s, _) = app.get_as(Some(&viewer), "/api/v1/vpp/vpps").await;
    assert_eq!(s, StatusCode::OK);
    let claims = claims_of(&viewer);
    let now = jiff::Timestamp::now().as_second();

    let mut expired = claims.clone();
    expired["exp"] = json!(now - 10);
    expired["iat"] = json!(now - 1000);
    let mut escalated = claims.clone();
    escalated["role"] = json!("admin");
    // Signed with the right key (as by someone who read it) but living a
    // year: longer than the server issues, so refused.
    let mut long_lived = claims.clone();
    long_lived["iat"] = json!(now);
    long_lived["exp"] = json!(now + 365 * 24 * 3600);
    // Tampered: the viewer's signature on an admin payload.
    let parts: Vec<&str> = viewer.split('.').collect();
    let tampered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(escalated.to_string()), parts[2]);
    let cases = [
        ("expired", forge(&expired, JWT_SECRET)),
        ("a year long", forge(&long_lived, JWT_SECRET)),
        ("tampered", tampered),
        ("alg none", forge_unsigned(&escalated)),
        ("wrong key", forge(&escalated, "another-secret-entirely-000000000")),
        ("garbage", "not.a.token".to_string()),
        ("unknown api key", "vppk_00000000.secret".to_string()),
    ];
    for (what, token) in cases {
        let ((s, p, _), headers) = app.request_as(Some(&token), Method::GET, "/api/v1/vpp/vpps", None, vec![]).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what}: {p}");
        assert_eq!(headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer");
        assert_eq!(p["type"], "urn:vpp:problem:unauthorized");
    }
    // A viewer calling a write endpoint gets 403 and nothing is written.
    let (s, p) = app.post_as(Some(&viewer), "/api/v1/vpp/vpps", json!({"name": "V", "market_type": "SPOT"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{p}");
    assert_eq!(p["required"], "vpps:write");
    assert_eq!(app.get("/api/v1/vpp/vpps").await.1["total"], 0);
}

#[tokio::test]
async fn revoked_and_disabled_users_lose_their_tokens() {
    let app = TestApp::new().await;
    let op = app.token_for("operator").await;
    let (_, me) = app.get_as(Some(&op), "/api/v1/auth/me").await;
    assert_eq!(me["role"], "operator");
    assert!(me["permissions"].as_array().unwrap().contains(&json!("dispatch:write")));
    let id = me["id"].as_str().unwrap().to_string();
    let (s, _) = app.post(&format!("/api/v1/auth/users/{id}/revoke-sessions"), json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.get_as(Some(&op), "/api/v1/vpp/vpps").await.0, StatusCode::UNAUTHORIZED, "revoked");

    let op = app.login("operator", "operator-password-for-tests").await;
    assert_eq!(app.get_as(Some(&op), "/api/v1/vpp/vpps").await.0, StatusCode::OK);
    let (s, u) = app.put(&format!("/api/v1/auth/users/{id}"), json!({"active": false})).await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["active"], false);
    let (s, p) = app.get_as(Some(&op), "/api/v1/vpp/vpps").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "disabled user's old token: {p}");
    let (s, _) = app
        .post_as(None, "/api/v1/auth/login", json!({"username": "operator", "password": "operator-password-for-tests"}))
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "disabled users cannot log in");
    // An admin cannot lock themselves out.
    let (_, me) = app.get("/api/v1/auth/me").await;
    let (s, _) = app.put(&format!("/api/v1/auth/users/{}", me["id"].as_str().unwrap()), json!({"active": false})).await;
    assert_eq!(s, StatusCode::CONFLICT);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_replays_end_the_session() {
    let app = TestApp::new().await;
    let (s, first) =
        app.post_as(None, "/api/v1/auth/login", json!({"username": "admin", "password": ADMIN_PASSWORD})).await;
    assert_eq!(s, StatusCode::OK);
    assert!(first.get("password_hash").is_none() && first["user"].get("password_hash").is_none());
    let r1 = first["refresh_token"].as_str().unwrap().to_string();
    let (s, second) = app.post_as(None, "/api/v1/auth/refresh", json!({"refresh_token": r1})).await;
    assert_eq!(s, StatusCode::OK, "{second}");
    let r2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    assert_eq!(app.get_as(Some(second["access_token"].as_str().unwrap()), "/api/v1/vpp/vpps").await.0, StatusCode::OK);
    // Replaying the used token revokes the whole family, r2 included.
    let (s, _) = app.post_as(None, "/api/v1/auth/refresh", json!({"refresh_token": r1})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app.post_as(None, "/api/v1/auth/refresh", json!({"refresh_token": r2})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // ... and the access tokens of that session.
    assert_eq!(
        app.get_as(Some(second["access_token"].as_str().unwrap()), "/api/v1/vpp/vpps").await.0,
        StatusCode::UNAUTHORIZED
    );
    // Logout ends a session: its refresh token and its access token stop
    // working at once; another session of the same user goes on.
    let (_, other) =
        app.post_as(None, "/api/v1/auth/login", json!({"username": "admin", "password": ADMIN_PASSWORD})).await;
    let (_, third) =
        app.post_as(None, "/api/v1/auth/login", json!({"username": "admin", "password": ADMIN_PASSWORD})).await;
    let r3 = third["refresh_token"].as_str().unwrap().to_string();
    let a3 = third["access_token"].as_str().unwrap().to_string();
    assert_eq!(app.get_as(Some(&a3), "/api/v1/vpp/vpps").await.0, StatusCode::OK);
    let ((s, _, _), _) = app
        .request_as(
            None,
            Method::POST,
            "/api/v1/auth/logout",
            Some("application/json"),
            json!({"refresh_token": r3}).to_string().into_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _) = app.post_as(None, "/api/v1/auth/refresh", json!({"refresh_token": r3})).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, p) = app.get_as(Some(&a3), "/api/v1/vpp/vpps").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the access token outlived its logout: {p}");
    assert_eq!(app.get_as(Some(other["access_token"].as_str().unwrap()), "/api/v1/vpp/vpps").await.0, StatusCode::OK);
    let (s, p) = app.post_as(None, "/api/v1/auth/refresh", json!({"token": "x"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "token");
}

#[tokio::test]
async fn repeated_failures_lock_the_account_and_bursts_get_429() {
    let mut settings = vpp_server::ServerSettings::default();
    settings.auth.trusted_proxies = vec!["10.9.9.9".parse().unwrap()];
    let app = TestApp::with_settings(settings).await;
    app.token_for("trader").await;
    let (right, wrong) = ("trader-password-for-tests", "wrong password!!");
    let attacker = "203.0.113.7";
    for _ in 0..5 {
        let (s, p) = app.login_from(attacker, None, "trader", wrong).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{p}");
    }
    // Locked for that address only, answered exactly like a wrong password
    // (and like an unknown name), even with the right password.
    let (s, locked) = app.login_from(attacker, None, "trader", right).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (_, unknown) = app.login_from(attacker, None, "nobody-here", wrong).await;
    let (_, wrong_answer) = app.login_from("198.51.100.1", None, "trader", wrong).await;
    assert_eq!(locked, unknown, "a lock must not tell that the name exists");
    assert_eq!(locked, wrong_answer, "a lock must answer like a wrong password");
    // The user logs in from elsewhere: the attacker cannot lock them out.
    let (s, p) = app.login_from("198.51.100.2", None, "trader", right).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    // X-Forwarded-For counts only from a trusted proxy: through the proxy the
    // attacker is the locked address; sent directly, the header is ignored.
    let (s, _) = app.login_from("10.9.9.9", Some(&format!("1.2.3.4, {attacker}")), "trader", right).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the proxy named the locked address");
    let (s, _) = app.login_from(attacker, Some("198.51.100.3"), "trader", right).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "a client chose its own address");
    let (s, _) = app.login_from("10.9.9.9", Some("198.51.100.4"), "trader", right).await;
    assert_eq!(s, StatusCode::OK);
    let (_, users) = app.get("/api/v1/auth/users").await;
    let trader = users["items"].as_array().unwrap().iter().find(|u| u["username"] == "trader").unwrap().clone();
    let (s, _) = app
        .post(
            &format!("/api/v1/auth/users/{}/reset-password", trader["id"].as_str().unwrap()),
            json!({"password": "a new long password"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    app.login("trader", "a new long password").await;
    // A new password lifts the locks of every address.
    let (s, p) = app.login_from(attacker, None, "trader", "a new long password").await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let (s, p) = app
        .post(
            &format!("/api/v1/auth/users/{}/reset-password", trader["id"].as_str().unwrap()),
            json!({"password": "short"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "password");

    // A burst of logins from one address: 20 per minute, then 429 with Retry-After.
    let mut limited = None;
    for _ in 0..30 {
        let ((s, p, _), headers) = app
            .request_as(
                None,
                Method::POST,
                "/api/v1/auth/login",
                Some("application/json"),
                json!({"username": "nobody", "password": "whatever-password"}).to_string().into_bytes(),
            )
            .await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            limited = Some((p, headers));
            break;
        }
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (p, headers) = limited.expect("the burst was limited");
    assert_eq!(p["type"], "urn:vpp:problem:rate-limited");
    let retry: u64 = headers.get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!(retry >= 1);
}

#[tokio::test]
async fn write_bursts_are_rate_limited_per_caller() {
    let mut settings = vpp_server::ServerSettings::default();
    settings.auth.writes_per_second = 1;
    settings.auth.write_burst = 3;
    let app = TestApp::with_settings(settings).await;
    let mut statuses = Vec::new();
    for i in 0..6 {
        let (s, _) = app.post("/api/v1/vpp/vpps", json!({"name": format!("V{i}"), "market_type": "SPOT"})).await;
        statuses.push(s);
    }
    assert!(statuses.contains(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    // Reads are not limited.
    assert_eq!(app.get("/api/v1/vpp/vpps").await.0, StatusCode::OK);
}

#[tokio::test]
async fn sql_metacharacters_are_stored_literally() {
    let app = TestApp::new().await;
    let nasty = "Robert'); DROP TABLE resources; -- \" ; SELECT * FROM users WHERE '1'='1";
    let r = app
        .create_resource(
            "PV",
            nasty,
            json!({"parameters": {"peak_kw": 10, "inverter_kw": 10}, "device_address": nasty, "owner": nasty}),
        )
        .await;
    let (_, back) = app.get(&format!("/api/v1/vpp/resource-instances/{}", r["id"].as_str().unwrap())).await;
    assert_eq!(back["name"], nasty);
    assert_eq!(back["device_address"], nasty);
    assert_eq!(back["owner"], nasty);
    let (s, v) =
        app.post("/api/v1/vpp/vpps", json!({"name": nasty, "description": nasty, "market_type": "SPOT"})).await;
    assert_eq!(s, StatusCode::CREATED);
    assert_eq!(v["description"], nasty);
    let (_, list) = app.get(&format!("/api/v1/vpp/resource-instances?template_id={}", urlencode(nasty))).await;
    assert_eq!(list["total"], 0, "a filter value is a value, not SQL");
    let (_, audit) = app.get(&format!("/api/v1/audit?actor={}", urlencode(nasty))).await;
    assert_eq!(audit["total"], 0);
    assert_eq!(app.get("/api/v1/vpp/resource-instances").await.1["total"], 1, "the table is still there");
}

/// NUL characters, an only JSON-like media type and a value that overflows
/// in conversion are refused with the field named, and nothing is stored,
/// on either backend (PostgreSQL answered 500 to NUL, SQLite stored it).
#[tokio::test]
async fn nul_characters_odd_media_types_and_infinite_values_are_refused() {
    let app = TestApp::new().await;
    let body = br#"{"name":"PV\u0000 roof","description":"x","market_type":"SPOT"}"#.to_vec();
    let (s, p, _) = app.request(Method::POST, "/api/v1/vpp/vpps", Some("application/json"), body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(field(&p), "name");
    let body = br#"{"name":"VPP","market_type":"SPOT"}"#.to_vec();
    let (s, p, _) = app.request(Method::POST, "/api/v1/vpp/vpps", Some("application/jsonx"), body).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{p}");
    assert_eq!(app.get("/api/v1/vpp/vpps").await.1["total"], 0, "nothing stored");
    // 1.7e308 MW is a finite number; in the series' kW it is not.
    let pv = app.create_resource("PV", "Roof", json!({"parameters": {"peak_kw": 10, "inverter_kw": 10}})).await;
    let (s, series) = app
        .post(
            "/api/v1/vpp/series",
            json!({"name": "Roof power", "owner_kind": "resource", "owner_id": pv["id"], "quantity": "power"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{series}");
    let id = series["id"].as_str().unwrap();
    let csv = "time,value\n2026-11-02T00:00:00Z,1.7e308\n";
    let path = format!("/api/v1/vpp/series/{id}/import?unit=MW&belief_time=2026-11-01T00:00:00Z");
    let (s, p, _) = app.request(Method::POST, &path, Some("text/csv"), csv.as_bytes().to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "every row refused is no success: {p}");
    assert!(p.to_string().contains("finite"), "{p}");
    let (_, stored) =
        app.get(&format!("/api/v1/vpp/series/{id}/beliefs?start=2026-11-01T00:00:00Z&end=2026-11-03T00:00:00Z")).await;
    assert_eq!(stored.as_array().map(Vec::len), Some(0), "{stored}");
}

fn urlencode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

#[tokio::test]
async fn api_keys_are_scoped_shown_once_and_revocable() {
    let app = TestApp::new().await;
    let member = app.battery("Member", 100.0, 50.0, 10.0).await;
    let outsider = app.battery("Outsider", 100.0, 50.0, 10.0).await;
    let vpp = app.vpp("V", json!([{"resource_id": member}])).await;
    let (s, created) = app
        .post("/api/v1/auth/api-keys", json!({"name": "gateway 1", "scopes": ["telemetry:write"], "vpp_id": vpp}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let key = created["secret"].as_str().unwrap().to_string();
    assert!(key.starts_with("vppk_"));
    let (_, list) = app.get("/api/v1/auth/api-keys").await;
    assert!(!list.to_string().contains(key.split('.').nth(1).unwrap()), "the secret is never listed");
    assert_eq!(list["items"][0]["scopes"], json!(["telemetry:write"]));

    let sample = json!({"samples": [{"ts": now_rfc3339(), "power_kw": 5.0, "soc_pct": 50}]});
    let (s, p) =
        app.post_as(Some(&key), &format!("/api/v1/vpp/resource-instances/{member}/telemetry"), sample.clone()).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let (s, _) =
        app.post_as(Some(&key), &format!("/api/v1/vpp/resource-instances/{outsider}/telemetry"), sample.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "bound to one VPP");
    let (s, _) = app.get_as(Some(&key), "/api/v1/vpp/vpps").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no read scope");
    let ((s, _, _), _) = app
        .request_as(
            Some(&key),
            Method::POST,
            &format!("/api/v1/vpp/vpps/{vpp}/dispatch"),
            Some("application/json"),
            b"{\"target_kw\":1}".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "no dispatch scope");
    // A wrong secret with a real id fails.
    let forged = format!("{}.AAAA", key.split('.').next().unwrap());
    assert_eq!(
        app.post_as(Some(&forged), &format!("/api/v1/vpp/resource-instances/{member}/telemetry"), sample.clone())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );

    let (s, p) = app.post("/api/v1/auth/api-keys", json!({"name": "x", "scopes": ["users:manage"]})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "scopes[0]");
    let (s, p) =
        app.post("/api/v1/auth/api-keys", json!({"name": "x", "scopes": ["telemetry:write"], "vpp_id": "ghost"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "vpp_id");

    let id = created["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/api/v1/auth/api-keys/{id}")).await, StatusCode::OK);
    let (s, _) = app.post_as(Some(&key), &format!("/api/v1/vpp/resource-instances/{member}/telemetry"), sample).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "revoked");
}

#[tokio::test]
async fn the_audit_trail_records_changes_and_cannot_be_altered() {
    let app = TestApp::new().await;
    let analyst = app.token_for("analyst").await;
    let viewer = app.token_for("viewer").await;
    app.post_as(None, "/api/v1/auth/login", json!({"username": "analyst", "password": "wrong password!!"})).await;
    let g = app.generator("G", 100.0, 0.0, 10.0).await;
    app.set_status(&g, "MAINTENANCE").await;
    let v = app.vpp("V", json!([{"resource_id": g}])).await;
    app.set_status(&g, "ONLINE").await;
    app.post(&format!("/api/v1/vpp/vpps/{v}/dispatch"), json!({"target_kw": 50})).await;
    let (s, _) = app.post_as(Some(&viewer), "/api/v1/vpp/vpps", json!({"name": "nope", "market_type": "SPOT"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    assert_eq!(app.get_as(Some(&viewer), "/api/v1/audit").await.0, StatusCode::FORBIDDEN);
    let (s, all) = app.get_as(Some(&analyst), "/api/v1/audit?size=100").await;
    assert_eq!(s, StatusCode::OK, "{all}");
    let items = all["items"].as_array().unwrap();
    let find = |action: &str| items.iter().filter(|e| e["action"] == action).cloned().collect::<Vec<Value>>();
    assert!(!find("login").is_empty());
    let failed = find("login_failed");
    assert_eq!(failed[0]["actor_name"], "analyst");
    let status_changes = find("PUT /api/v1/vpp/resource-instances/{id}/status");
    assert_eq!(status_changes.len(), 2);
    let first = status_changes.last().unwrap();
    assert_eq!(first["actor_name"], "admin");
    assert_eq!(first["role"], "admin");
    assert_eq!(first["entity_type"], "resource");
    assert_eq!(first["entity_id"], g.as_str());
    assert_eq!(first["before"]["status"], "ONLINE");
    assert_eq!(first["after"]["status"], "MAINTENANCE");
    let dispatch = &find("POST /api/v1/vpp/vpps/{id}/dispatch")[0];
    assert_eq!(dispatch["entity_type"], "dispatch");
    assert_eq!(dispatch["after"]["total_dispatched"], 50.0);
    let denied = &find("POST /api/v1/vpp/vpps").iter().find(|e| e["status"] == 403).cloned().unwrap();
    assert_eq!(denied["actor_name"], "viewer");
    // User creation is recorded without the password.
    let created = find("POST /api/v1/auth/users");
    assert!(!created.is_empty() && !created[0].to_string().contains("password-for-tests"), "{created:?}");

    let (_, by_entity) = app.get_as(Some(&analyst), &format!("/api/v1/audit?entity_type=resource&entity_id={g}")).await;
    assert_eq!(by_entity["total"], 3, "{by_entity}");
    let (_, by_actor) = app.get_as(Some(&analyst), "/api/v1/audit?actor=viewer").await;
    assert!(by_actor["total"].as_i64().unwrap() >= 2);
    let future = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string();
    let (_, later) = app.get_as(Some(&analyst), &format!("/api/v1/audit?from={}", urlencode(&future))).await;
    assert_eq!(later["total"], 0);
    let (s, p) = app.get_as(Some(&analyst), "/api/v1/audit?from=yesterday").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field(&p), "from");

    // The database itself refuses to change history.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.url).await.unwrap();
    assert!(sqlx::query("UPDATE audit_log SET actor_name = 'nobody'").execute(&pool).await.is_err());
    assert!(sqlx::query("DELETE FROM audit_log").execute(&pool).await.is_err());
    pool.close().await;
    let (_, again) = app.get_as(Some(&analyst), "/api/v1/audit?size=1").await;
    assert!(again["total"].as_i64().unwrap() >= all["total"].as_i64().unwrap());
}

#[tokio::test]
async fn security_headers_cors_and_metrics_access() {
    let settings =
        vpp_server::ServerSettings { cors_origins: vec!["https://console.example.org".into()], ..Default::default() };
    let app = TestApp::with_settings(settings).await;
    let ((_, _, _), headers) = app.request_as(None, Method::GET, "/healthz", None, vec![]).await;
    assert_eq!(headers.get("x-content-type-options").unwrap(), "nosniff");
    assert_eq!(headers.get("x-frame-options").unwrap(), "DENY");
    assert!(headers.get("content-security-policy").unwrap().to_str().unwrap().contains("default-src 'self'"));

    let preflight = |origin: &'static str| {
        axum::http::Request::builder()
            .method(Method::OPTIONS)
            .uri("/api/v1/vpp/vpps")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(axum::body::Body::empty())
            .unwrap()
    };
    use tower::ServiceExt;
    let ok = app.router.clone().oneshot(preflight("https://console.example.org")).await.unwrap();
    assert_eq!(ok.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).unwrap(), "https://console.example.org");
    let other = app.router.clone().oneshot(preflight("https://evil.example.com")).await.unwrap();
    assert!(other.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let viewer = app.token_for("viewer").await;
    assert_eq!(app.get_as(Some(&viewer), "/metrics").await.0, StatusCode::FORBIDDEN);
    assert_eq!(app.get_as(None, "/metrics").await.0, StatusCode::UNAUTHORIZED);
    let analyst = app.token_for("analyst").await;
    assert_eq!(app.get_as(Some(&analyst), "/metrics").await.0, StatusCode::OK);
    assert!(Role::Analyst.allows(Permission::MetricsRead));
}
