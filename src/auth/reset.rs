//! The operator's reset of a login's password (`rehabit user reset-password EMAIL`): the way a
//! login shared by clinics, which no clinic may reset, gets a new password.

use crate::auth::{password, queries};

/// What `rehabit user reset-password` did.
#[derive(Debug)]
pub struct PasswordReset {
    /// The password now set: the one given, or a generated one to hand to the person.
    pub password: String,
    pub generated: bool,
    /// Sign-ins ended, in every clinic of the login.
    pub ended_sign_ins: usize,
}

/// The operator's reset of a login's password (`rehabit user reset-password EMAIL`): for a login
/// shared by clinics, which no clinic may reset. Sets `password` (or a generated one), and ends
/// every sign-in of the login in every clinic.
pub async fn reset_password(
    conn: &mut diesel_async::AsyncPgConnection,
    email: &str,
    password: Option<String>,
) -> Result<PasswordReset, String> {
    use diesel_async::AsyncConnection;
    let email = crate::values::Email::parse(email).map_err(|e| format!("the email {e}"))?;
    let generated = password.is_none();
    // 18 random bytes: 24 characters, 144 bits.
    let password = password.unwrap_or_else(|| crate::secrets::random_token(18));
    password::check_password_rules(&password).map_err(|e| format!("the password {e}"))?;
    let user = queries::user_by_email(conn, email.as_str())
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("there is no login with the email {email}"))?;
    let hash = password::hash(password.clone()).await.map_err(|e| e.to_string())?;
    let ended_sign_ins = conn
        .transaction::<_, diesel::result::Error, _>(async |conn| {
            queries::set_password(conn, user.id, &hash).await?;
            queries::revoke_all_families(conn, user.id).await
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(PasswordReset {
        password,
        generated,
        ended_sign_ins,
    })
}
