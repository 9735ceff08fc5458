//! Authentication: the permission model, password hashing, access and refresh tokens, API-key
//! lookup and rate limits, sign-in throttling and the `Caller` extractor. The endpoints that
//! issue tokens live in `oauth`.

pub mod cache;
pub mod extractor;
pub mod keys;
pub mod password;
pub mod permissions;
pub mod queries;
pub mod rate_limit;
pub mod reset;
pub mod throttle;
pub mod tokens;

pub use extractor::Caller;
pub use permissions::{Permission, Permissions, Role};
pub use reset::{PasswordReset, reset_password};
