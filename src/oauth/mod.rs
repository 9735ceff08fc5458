//! The OAuth 2 endpoints people sign in with: `POST /v1/auth/token` (password and refresh_token
//! grants, RFC 6749) and `POST /v1/auth/revoke` (RFC 7009). What a token is and how a request
//! proves one lives in `auth`.

pub mod handlers;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::create_token).service(handlers::revoke_token);
}
