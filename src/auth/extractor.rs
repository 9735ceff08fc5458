//! `Caller`: who is calling, in which clinic, with which permissions.
//!
//! Every request with a bearer token is checked against the database (one indexed lookup), so
//! a deactivated membership, an archived client or a revoked sign-in loses access at once.

use crate::auth::{Permission, Permissions, Role};
use crate::error::ApiError;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use uuid::Uuid;

/// A signed-in member of a clinic.
#[derive(Debug, Clone)]
pub struct Member {
    pub user_id: Uuid,
    pub membership_id: Uuid,
    pub role: Role,
    /// For role client: the client record this login belongs to.
    pub client_id: Option<Uuid>,
    /// The sign-in (token family) the access token belongs to.
    pub family_id: Uuid,
}

#[derive(Debug, Clone)]
pub enum Principal {
    Member(Member),
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub clinic_id: Uuid,
    pub principal: Principal,
    pub permissions: Permissions,
}

impl Caller {
    /// 403 unless the caller holds `p`.
    pub fn require(&self, p: Permission) -> Result<(), ApiError> {
        if self.permissions.contains(p) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "This operation needs the `{p}` permission, which the caller does not have."
            )))
        }
    }

    /// The signed-in member, for endpoints about one's own account.
    pub fn member(&self) -> Result<&Member, ApiError> {
        match &self.principal {
            Principal::Member(m) => Ok(m),
        }
    }

    /// For a client's login: their client record. `None` for staff and integrations.
    pub fn own_client_id(&self) -> Option<Uuid> {
        match &self.principal {
            Principal::Member(m) if m.role == Role::Client => m.client_id,
            _ => None,
        }
    }

    /// For a staff member: their practitioner id (membership id).
    pub fn practitioner_id(&self) -> Option<Uuid> {
        match &self.principal {
            Principal::Member(m) if m.role.is_staff() => Some(m.membership_id),
            _ => None,
        }
    }

    /// Who owns an `Idempotency-Key`: keys are per caller.
    pub fn idempotency_owner(&self) -> String {
        match &self.principal {
            Principal::Member(m) => format!("member:{}", m.membership_id),
        }
    }
}

/// The bearer credential of a request, if any.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Authenticates a request, once: the result is kept in the request's extensions.
pub async fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    if let Some(c) = req.extensions().get::<Caller>() {
        return Ok(c.clone());
    }
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("AppState missing"))?
        .clone();
    let token = bearer(req)
        .ok_or_else(|| ApiError::unauthorized("Send an access token as `Authorization: Bearer <token>`."))?;
    let invalid = || ApiError::unauthorized("The access token is invalid, expired or revoked.");
    let claims = state.keys.verify(token).ok_or_else(invalid)?;
    let mut conn = state.conn().await?;
    let found = crate::auth::queries::active_member(&mut conn, claims.sub, claims.clinic, claims.sid).await?;
    let (membership_id, role, client_id) = found.ok_or_else(invalid)?;
    let caller = Caller {
        clinic_id: claims.clinic,
        permissions: role.permissions(),
        principal: Principal::Member(Member {
            user_id: claims.sub,
            membership_id,
            role,
            client_id,
            family_id: claims.sid,
        }),
    };
    req.extensions_mut().insert(caller.clone());
    Ok(caller)
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { authenticate(&req).await })
    }
}
