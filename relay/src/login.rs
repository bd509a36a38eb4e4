//! Who a connection is: passwords (with the rate limit, lockout and the
//! second factor), session tokens, machine credentials and enrollment
//! tokens, each checked against the store.

use crate::{
    audit::NewEntry,
    auth,
    server::{ConnError, Ctx, Peer, TOKEN_TTL},
};
use lifeline_net::unix_secs;
use lifeline_proto::{Credential, ErrorCode, Hello, PeerKind};
use std::{net::SocketAddr, time::Instant};
use tracing::{info, warn};

/// The peer and, after a password login, the new token and its expiry; or
/// the refusal to send.
pub(crate) type AuthResult = Result<(Peer, Option<(String, u64)>), (ErrorCode, String)>;

/// Checks the hello's credential for its peer kind.
///
/// # Errors
/// Store failures, and credentials that do not fit the peer kind.
pub(crate) async fn authenticate(
    ctx: &Ctx,
    hello: &Hello,
    addr: SocketAddr,
) -> Result<AuthResult, ConnError> {
    match (&hello.credential, hello.kind) {
        (
            Credential::Password {
                user,
                password,
                totp,
                e2e_key,
            },
            PeerKind::Console,
        ) => {
            if e2e_key.len() != lifeline_net::e2e::KEY_LEN {
                return Err(ConnError::Protocol(format!(
                    "login without a {}-byte end-to-end key",
                    lifeline_net::e2e::KEY_LEN
                )));
            }
            let totp = totp.as_ref().map(|t| t.expose().to_string());
            login(ctx, user, password.expose(), totp, e2e_key.clone(), addr).await
        }
        (Credential::SessionToken(token), PeerKind::Console) => {
            let hash = auth::token_hash(token.expose());
            let now = unix_secs();
            // Read-only, on the lookups connection: a crowd of consoles
            // (or of strangers with made-up tokens) does not wait behind,
            // nor hold up, the writes queued on the store.
            let found = ctx
                .lookups
                .call(move |s| {
                    let user = s.user_by_token(&hash, now)?;
                    let key = s.token_key(&hash)?;
                    Ok(user.map(|u| (u, key.unwrap_or_default())))
                })
                .await?;
            Ok(match found {
                Some(((u, _), e2e_key)) => Ok((
                    Peer::Person {
                        user_id: u.id,
                        name: u.name,
                        role: u.role,
                        token_hash: hash,
                        e2e_key,
                    },
                    None,
                )),
                None => Err((
                    ErrorCode::BadCredentials,
                    "session expired or revoked; run `lifeline login` again".into(),
                )),
            })
        }
        (
            Credential::Machine { machine_id, secret },
            kind @ (PeerKind::Agent | PeerKind::AgentRequest),
        ) => {
            let id = machine_id.clone();
            let hash = auth::token_hash(secret.expose());
            let rec = ctx.lookups.call(move |s| s.machine(&id)).await?;
            Ok(match rec {
                Some(m) if !m.revoked && auth::hashes_equal(&m.credential_hash, &hash) => {
                    let peer = if kind == PeerKind::Agent {
                        Peer::Machine { machine_id: m.id }
                    } else {
                        Peer::MachineRequest { machine_id: m.id }
                    };
                    Ok((peer, None))
                }
                _ => Err((
                    ErrorCode::MachineUnknown,
                    "machine credential invalid or revoked; enroll this machine again".into(),
                )),
            })
        }
        (Credential::EnrollToken(token), PeerKind::Agent) => {
            let hash = auth::token_hash(token.expose());
            let now = unix_secs();
            Ok(
                if ctx
                    .lookups
                    .call(move |s| s.enroll_token_valid(&hash, now))
                    .await?
                {
                    Ok((Peer::Enrolling { token_hash: hash }, None))
                } else {
                    Err((
                        ErrorCode::EnrollTokenInvalid,
                        "enrollment token invalid or expired".into(),
                    ))
                },
            )
        }
        _ => Err(ConnError::Protocol(
            "credential does not fit the peer kind".into(),
        )),
    }
}

/// Longest a login waits for a password check to be free: past it, the
/// relay is busy (with a crowd of guesses, say) and says so.
const PASSWORD_QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Longest user name a login is checked for.
const MAX_LOGIN_NAME: usize = 64;

async fn login(
    ctx: &Ctx,
    user: &str,
    password: &str,
    totp: Option<String>,
    e2e_key: Vec<u8>,
    addr: SocketAddr,
) -> Result<AuthResult, ConnError> {
    if user.len() > MAX_LOGIN_NAME {
        // No account has such a name (`user add` takes 64 bytes at most);
        // it is neither counted nor audited, so it cannot bloat either.
        return Ok(Err((
            ErrorCode::BadCredentials,
            format!("invalid user or password (user names are at most {MAX_LOGIN_NAME} bytes)"),
        )));
    }
    let user_key = format!("user:{}", user.to_lowercase());
    let ip_key = format!("ip:{}", addr.ip());
    let now = Instant::now();
    // Held until this login is decided: attempts under way count with the
    // failures, so a burst cannot all pass before the first one fails.
    let _attempt = match auth::Attempt::begin(&ctx.limiter, &user_key, &ip_key, now) {
        Ok(a) => a,
        Err(refusal) => {
            let wait = refusal.wait.as_secs().max(1);
            if refusal.busy {
                warn!(user, "login refused: too many attempts under way");
                return Ok(Err((
                    ErrorCode::RateLimited,
                    format!(
                        "too many logins at once for this name or address; try again in {wait} s"
                    ),
                )));
            }
            warn!(user, "login refused: too many failed attempts");
            if refusal.first {
                ctx.audit(NewEntry::new(
                    user,
                    "login-locked",
                    user,
                    format!("from {}", addr.ip()),
                ))
                .await;
            }
            return Ok(Err((
                ErrorCode::RateLimited,
                format!("too many failed logins; try again in {wait} s"),
            )));
        }
    };
    let name = user.to_string();
    let record = ctx.store.call(move |s| s.user_by_name(&name)).await?;
    let stored = record.as_ref().filter(|u| !u.disabled).map_or_else(
        || auth::dummy_hash().to_string(),
        |u| u.password_hash.clone(),
    );
    let pw = password.to_string();
    // Argon2 takes 19 MiB a check: a few at a time, whatever the number of
    // names and addresses trying.
    let slot = tokio::time::timeout(PASSWORD_QUEUE_WAIT, ctx.password_checks.acquire()).await;
    let Ok(Ok(_slot)) = slot else {
        warn!(user, "login refused: too many password checks waiting");
        return Ok(Err((
            ErrorCode::RateLimited,
            "the relay is busy checking other logins; try again in a few seconds".into(),
        )));
    };
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&pw, &stored))
        .await
        .unwrap_or(false);
    let record = record.filter(|u| ok && !u.disabled);
    let second = match &record {
        Some(u) => second_factor(ctx, u.id, totp).await?,
        None => Ok(()),
    };
    if let (Some(u), Err(why)) = (&record, &second) {
        failed_login(ctx, (&user_key, &ip_key), now, &u.name, why, addr).await;
        let message = if *why == "no code" {
            "this account needs a one-time code too: `lifeline login … --totp CODE` \
             (or LIFELINE_TOTP=CODE) with the code from your authenticator app"
        } else {
            "invalid one-time code (wrong, expired or already used); wait for the next one"
        };
        return Ok(Err((ErrorCode::BadCredentials, message.into())));
    }
    match record {
        Some(u) => {
            ctx.limiter
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .record_success(&user_key);
            let token = auth::new_token("lls_");
            let hash = auth::token_hash(&token);
            let now_unix = unix_secs();
            let expires = now_unix + TOKEN_TTL.as_secs();
            let uid = u.id;
            let key = e2e_key.clone();
            ctx.store
                .call(move |s| {
                    crate::store::atomically(s, |s| {
                        s.insert_auth_token(&hash, uid, now_unix, expires)?;
                        s.set_token_key(&hash, &key)
                    })
                })
                .await?;
            info!(user = %u.name, role = %u.role, "login");
            ctx.audit(NewEntry::new(
                &u.name,
                "login",
                &u.name,
                format!("from {}", addr.ip()),
            ))
            .await;
            Ok(Ok((
                Peer::Person {
                    user_id: u.id,
                    name: u.name,
                    role: u.role,
                    token_hash: hash,
                    e2e_key,
                },
                Some((token, expires)),
            )))
        }
        None => {
            failed_login(ctx, (&user_key, &ip_key), now, user, "wrong password", addr).await;
            Ok(Err((
                ErrorCode::BadCredentials,
                "invalid user or password".into(),
            )))
        }
    }
}

/// Counts a failed login against the name and the address, logs and
/// audits it.
async fn failed_login(
    ctx: &Ctx,
    (user_key, ip_key): (&str, &str),
    now: Instant,
    user: &str,
    why: &str,
    addr: SocketAddr,
) {
    {
        // A poisoned limiter still counts: its maps stay consistent.
        let mut l = ctx
            .limiter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        l.record_failure(user_key, now);
        l.record_failure(ip_key, now);
    }
    warn!(user, "login refused: {why}");
    ctx.audit(NewEntry::new(
        user,
        "login-failed",
        user,
        format!("{why}, from {}", addr.ip()),
    ))
    .await;
}

/// Checks a user's one-time code when the account has a second factor:
/// `Err` names what was wrong, for the audit log ("no code", "wrong code").
async fn second_factor(
    ctx: &Ctx,
    user_id: i64,
    typed: Option<String>,
) -> Result<Result<(), &'static str>, ConnError> {
    let Some((secret, last_step)) = ctx.store.call(move |s| s.totp(user_id)).await? else {
        return Ok(Ok(()));
    };
    let Some(typed) = typed else {
        return Ok(Err("no code"));
    };
    let Some(step) = crate::totp::verify(&secret, &typed, unix_secs(), last_step) else {
        return Ok(Err("wrong code"));
    };
    // Stored before the login counts: the same code never works twice,
    // even for two logins racing with it.
    let fresh = ctx
        .store
        .call(move |s| s.use_totp_step(user_id, step))
        .await?;
    Ok(if fresh { Ok(()) } else { Err("wrong code") })
}
