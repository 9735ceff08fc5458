//! `TestApp`: the whole application in-process, on a database of its own cloned from a
//! migrated template, dropped when the test ends.

use actix_service::ServiceExt;
use actix_service::boxed::{self, RcService};
use actix_web::body::BoxBody;
use actix_web::dev::ServiceResponse;
use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use actix_web::test::{self, TestRequest};
use diesel::QueryableByName;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use rehabit::config::Config;
use rehabit::db::{quote_ident, split_database_url, with_database};
use rehabit::state::AppState;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

pub const PASSWORD: &str = "correct horse battery staple";

type Svc = RcService<actix_http::Request, ServiceResponse<BoxBody>, actix_web::Error>;

pub struct TestApp {
    pub db_name: String,
    pub db_url: String,
    pub state: AppState,
    svc: Svc,
}

fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

fn admin_url() -> String {
    split_database_url(&server_url())
        .map(|(admin, _)| admin)
        .unwrap_or_else(server_url)
}

/// The template's name changes with the migrations and the built-in library, so a changed
/// schema or content gets a new template.
fn template_name() -> String {
    let mut files = Vec::new();
    collect(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations")),
        &mut files,
    );
    collect(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src/library")),
        &mut files,
    );
    files.sort();
    let mut h = Sha256::new();
    for f in files {
        h.update(f.to_string_lossy().as_bytes());
        h.update(std::fs::read(&f).unwrap_or_default());
    }
    format!("{}{}", template_prefix(), &hex::encode(h.finalize())[..16])
}

/// Templates are per checkout, so two checkouts on one server never drop each other's.
fn template_prefix() -> String {
    let dir = Sha256::digest(env!("CARGO_MANIFEST_DIR").as_bytes());
    format!("rehabit_tpl_{}_", &hex::encode(dir)[..8])
}

fn collect(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() { collect(&p, out) } else { out.push(p) }
    }
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    datname: String,
}

async fn db_exists(conn: &mut AsyncPgConnection, name: &str) -> bool {
    diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
        .bind::<Text, _>(name)
        .get_result::<Exists>(conn)
        .await
        .map(|e| e.exists)
        .unwrap_or(false)
}

/// Makes the migrated template once per schema, under an advisory lock so parallel test
/// processes do not race; a half-built template is never visible under the final name.
async fn template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let name = template_name();
            let mut conn = AsyncPgConnection::establish(&admin_url()).await.expect("PostgreSQL reachable at DATABASE_URL");
            diesel::sql_query("SELECT pg_advisory_lock(7301001)").execute(&mut conn).await.expect("lock");
            if !db_exists(&mut conn, &name).await {
                let building = format!("{name}_building");
                diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&building)))
                    .execute(&mut conn)
                    .await
                    .expect("drop stale build");
                diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(&building)))
                    .execute(&mut conn)
                    .await
                    .expect("create template");
                let url = with_database(&server_url(), &building).expect("url");
                rehabit::db::run_migrations(&url).await.expect("migrations run");
                let mut building_conn = AsyncPgConnection::establish(&url).await.expect("template database");
                rehabit::library::install(&mut building_conn).await.expect("built-in library installs");
                drop(building_conn);
                // The installer's connection closes in the background; renaming waits for it.
                let mut attempts = 0;
                loop {
                    let renamed = diesel::sql_query(format!(
                        "ALTER DATABASE {} RENAME TO {}",
                        quote_ident(&building),
                        quote_ident(&name)
                    ))
                    .execute(&mut conn)
                    .await;
                    match renamed {
                        Ok(_) => break,
                        Err(e) if attempts < 50 && e.to_string().contains("being accessed by other users") => {
                            attempts += 1;
                            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                        }
                        Err(e) => panic!("could not rename the template: {e}"),
                    }
                }
                // Templates of this checkout's older schemas are of no further use.
                let old: Vec<Name> = diesel::sql_query(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, $1) AND datname <> $2 AND datname NOT LIKE '%\\_building'",
                )
                .bind::<Text, _>(template_prefix())
                .bind::<Text, _>(&name)
                .load(&mut conn)
                .await
                .unwrap_or_default();
                for o in old {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&o.datname)))
                        .execute(&mut conn)
                        .await;
                }
            }
            diesel::sql_query("SELECT pg_advisory_unlock(7301001)").execute(&mut conn).await.expect("unlock");
            name
        })
        .await
}

async fn create_test_db() -> (String, String) {
    create_db_from(template().await).await
}

/// A new test database copied from `tpl`.
async fn create_db_from(tpl: &str) -> (String, String) {
    let name = format!("rehabit_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = AsyncPgConnection::establish(&admin_url())
        .await
        .expect("PostgreSQL reachable");
    let mut attempts = 0;
    loop {
        let made = diesel::sql_query(format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(&name),
            quote_ident(tpl)
        ))
        .execute(&mut conn)
        .await;
        match made {
            Ok(_) => break,
            // Cloning needs the template to have no other sessions; another clone may be starting.
            Err(e) if attempts < 50 && e.to_string().contains("being accessed by other users") => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("could not create the test database: {e}"),
        }
    }
    let url = with_database(&server_url(), &name).expect("url");
    (name, url)
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts the app with configuration adjusted by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let (db_name, db_url) = create_test_db().await;
        Self::start(db_name, db_url, tweak).await
    }

    /// Another app on a copy of this app's database as it is now, signing tokens with the same
    /// key: the tokens and keys made here work there. For tests that need the same world many
    /// times over. Ends this app's database sessions (copying needs that), so use this app only
    /// to fork afterwards.
    pub async fn fork(&self) -> TestApp {
        // Its cache's listener would connect again to the database being copied.
        self.state.auth_cache.stop();
        let mut conn = AsyncPgConnection::establish(&admin_url())
            .await
            .expect("PostgreSQL reachable");
        diesel::sql_query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind::<Text, _>(&self.db_name)
        .execute(&mut conn)
        .await
        .expect("end the sessions of the database to copy");
        let (db_name, db_url) = create_db_from(&self.db_name).await;
        let secret = self.state.config.jwt_secret.clone();
        Self::start(db_name, db_url, move |c| c.jwt_secret = secret).await
    }

    /// A second instance of the service on this app's database, as another server behind the
    /// same load balancer: its own state, pools and cache of callers; tokens signed with the
    /// same key. The database stays this app's (dropped with it, not with the second one).
    pub async fn second_instance(&self) -> TestApp {
        let secret = self.state.config.jwt_secret.clone();
        Self::start(String::new(), self.db_url.clone(), move |c| c.jwt_secret = secret).await
    }

    /// Waits (up to ten seconds) until this instance's cache of callers listens for changes,
    /// so that what follows runs with the cache in use.
    pub async fn cache_listening(&self) {
        for _ in 0..500 {
            if self.state.auth_cache.is_listening() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the auth cache's listener did not connect");
    }

    /// The status of `GET path` with `credential`, polled (up to ten seconds) until it is
    /// `status`: for a change made behind this instance's back (another instance, direct SQL),
    /// which it hears of through the database's notification. Answers the last status seen.
    pub async fn status_becomes(&self, path: &str, credential: &str, status: u16) -> u16 {
        let mut last = 0;
        for _ in 0..500 {
            last = self.get(path).bearer(credential).send().await.status;
            if last == status {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        last
    }

    async fn start(db_name: String, db_url: String, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::from_lookup(|k| match k {
            "DATABASE_URL" => Some(db_url.clone()),
            "DATABASE_POOL_SIZE" => Some("4".into()),
            _ => None,
        })
        .expect("config");
        tweak(&mut config);
        let state = AppState::new(config).expect("state");
        state.audit.start(state.pool.clone());
        let metrics = rehabit::ops::Metrics::new().expect("metrics");
        let request_metrics = rehabit::request_metrics(&metrics).expect("request metrics");
        let svc = test::init_service(rehabit::build_app(state.clone(), metrics, request_metrics)).await;
        let svc = boxed::rc_service(svc.map(|res: ServiceResponse<_>| res.map_into_boxed_body()));
        TestApp {
            db_name,
            db_url,
            state,
            svc,
        }
    }

    pub fn req(&self, method: Method, path: &str) -> Req<'_> {
        Req {
            app: self,
            inner: TestRequest::default().method(method).uri(path),
        }
    }

    pub fn get(&self, path: &str) -> Req<'_> {
        self.req(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Req<'_> {
        self.req(Method::POST, path)
    }

    pub fn patch(&self, path: &str) -> Req<'_> {
        self.req(Method::PATCH, path)
    }

    pub fn put(&self, path: &str) -> Req<'_> {
        self.req(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> Req<'_> {
        self.req(Method::DELETE, path)
    }

    /// The types of the outbox's events, in the order they were written (events get their
    /// feed position only when the feed or housekeeping runs the sequencer).
    pub async fn event_types(&self) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Ev {
            #[diesel(sql_type = Text)]
            ty: String,
        }
        let rows: Vec<Ev> = diesel::sql_query("SELECT type AS ty FROM events ORDER BY clinic_id, written")
            .load(&mut self.db().await)
            .await
            .expect("events");
        rows.into_iter().map(|e| e.ty).collect()
    }

    /// Every audit event so far (after writing those still waiting in memory), oldest first,
    /// as JSON rows of `audit_events`.
    pub async fn audit_events(&self) -> Vec<Value> {
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = Text)]
            row: String,
        }
        self.state.audit.flush().await;
        let rows: Vec<Row> = diesel::sql_query("SELECT row_to_json(a)::text AS row FROM audit_events a ORDER BY id")
            .load(&mut self.db().await)
            .await
            .expect("audit events");
        rows.into_iter()
            .map(|r| serde_json::from_str(&r.row).expect("json"))
            .collect()
    }

    /// Accepts an invitation and returns the access token.
    pub async fn accept(&self, token: &str, password: &str) -> TestResponse {
        self.post("/v1/auth/accept-invitation")
            .json(json!({"token": token, "password": password}))
            .send()
            .await
    }

    /// A connection to this test's database, for checks the API cannot make.
    pub async fn db(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(&self.db_url).await.expect("test database")
    }

    /// Signs a clinic up; returns the sign-up answer.
    pub async fn signup(&self, clinic: &str, email: &str) -> Value {
        let res = self
            .post("/v1/clinics")
            .json(json!({"clinic_name": clinic, "admin": {"name": "Admin of ".to_string() + clinic, "email": email, "password": PASSWORD}}))
            .send()
            .await;
        assert_eq!(res.status, 201, "sign-up failed: {}", res.body);
        res.body
    }

    /// Password grant; returns the whole token answer.
    pub async fn login(&self, email: &str, password: &str) -> TestResponse {
        self.post("/v1/auth/token")
            .json(json!({"grant_type": "password", "username": email, "password": password}))
            .send()
            .await
    }

    /// As `admin`, adds a client (`body` as for `POST /v1/clients`), invites them and accepts
    /// the invitation; returns the client's id and the client's access token.
    pub async fn client_with_login(&self, admin: &str, body: Value) -> (String, String) {
        let res = self.post("/v1/clients").bearer(admin).json(body).send().await;
        assert_eq!(res.status, 201, "{}", res.body);
        let client_id = res.body["id"].as_str().expect("id").to_string();
        let res = self
            .post(&format!("/v1/clients/{client_id}/invitation"))
            .bearer(admin)
            .send()
            .await;
        assert_eq!(res.status, 201, "{}", res.body);
        let res = self.accept(res.body["token"].as_str().expect("token"), PASSWORD).await;
        assert_eq!(res.status, 200, "{}", res.body);
        (client_id, res.body["access_token"].as_str().expect("token").to_string())
    }

    /// Signs a clinic up and returns an admin access token.
    pub async fn admin_token(&self, clinic: &str, email: &str) -> String {
        self.signup(clinic, email).await;
        let res = self.login(email, PASSWORD).await;
        assert_eq!(res.status, 200, "{}", res.body);
        res.body["access_token"].as_str().expect("token").to_string()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if self.db_name.is_empty() {
            return; // a second instance: the database is the first one's
        }
        let name = self.db_name.clone();
        // Drop runs inside the test's runtime; the clean-up gets a small runtime of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = AsyncPgConnection::establish(&admin_url()).await {
                    let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&name)))
                        .execute(&mut conn)
                        .await;
                }
            });
        })
        .join();
    }
}

pub struct Req<'a> {
    app: &'a TestApp,
    inner: TestRequest,
}

impl Req<'_> {
    pub fn bearer(self, token: &str) -> Self {
        self.header("Authorization", &format!("Bearer {token}"))
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.inner = self.inner.insert_header((name.to_string(), value.to_string()));
        self
    }

    pub fn json(mut self, body: Value) -> Self {
        self.inner = self
            .inner
            .insert_header(("content-type", "application/json"))
            .set_payload(body.to_string());
        self
    }

    pub fn raw(mut self, content_type: &str, body: impl Into<actix_web::web::Bytes>) -> Self {
        self.inner = self
            .inner
            .insert_header(("content-type", content_type.to_string()))
            .set_payload(body.into());
        self
    }

    pub fn peer(mut self, addr: &str) -> Self {
        self.inner = self.inner.peer_addr(addr.parse().expect("socket address"));
        self
    }

    /// Sends the request with a body that stops after `first` and never ends (a client that
    /// trickles its body, or went quiet).
    pub async fn send_stalled(mut self, content_type: &str, first: &'static [u8]) -> TestResponse {
        self.inner = self.inner.insert_header(("content-type", content_type.to_string()));
        let mut req = self.inner.to_request();
        let chunk = futures_util::stream::iter([Ok(actix_web::web::Bytes::from_static(first))]);
        let stalled = futures_util::StreamExt::chain(chunk, futures_util::stream::pending());
        *req.payload() = actix_http::Payload::from(Box::pin(stalled) as actix_http::BoxedPayloadStream);
        Self::answer(test::try_call_service(&self.app.svc, req).await).await
    }

    pub async fn send(self) -> TestResponse {
        Self::answer(test::try_call_service(&self.app.svc, self.inner.to_request()).await).await
    }

    /// Sends a set-up step that must succeed: a broken set-up fails here, where it broke, with
    /// the answer in the message.
    #[track_caller]
    pub fn succeeds(self) -> impl std::future::Future<Output = TestResponse> {
        let at = std::panic::Location::caller();
        async move {
            let res = self.send().await;
            assert!(
                (200..300).contains(&res.status),
                "set-up step at {at} answered {}: {}",
                res.status,
                res.body
            );
            res
        }
    }

    /// What the client receives; an error the app hands to actix is answered as actix's
    /// server answers it (`error_response`).
    async fn answer(res: Result<ServiceResponse<BoxBody>, actix_web::Error>) -> TestResponse {
        let res = match res {
            Ok(res) => res.into_parts().1,
            Err(e) => e.error_response(),
        };
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let raw = actix_web::body::to_bytes(res.into_body()).await.unwrap_or_default();
        let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
        TestResponse {
            status,
            headers,
            body,
            raw: raw.to_vec(),
        }
    }
}

#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status, and returns its body.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.body
        );
        for field in ["type", "title", "status", "detail"] {
            assert!(self.body.get(field).is_some(), "problem lacks `{field}`: {}", self.body);
        }
        assert_eq!(self.body["status"], status);
        &self.body
    }

    /// The fields named in a validation problem.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Today in a client's timezone: homework dated "today" in UTC is tomorrow for a client in New
/// York during the evening there.
pub fn today_in(timezone: &str) -> chrono::NaiveDate {
    let tz: chrono_tz::Tz = timezone.parse().expect("tz");
    chrono::Utc::now().with_timezone(&tz).date_naive()
}
