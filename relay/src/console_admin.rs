//! A console's revocations (its own session token at logout, a machine's
//! credential, an enrollment token) and technicians' key approvals.

use crate::{
    audit::NewEntry,
    auth,
    console_conn::{Person, failure, internal},
    server::Ctx,
};
use lifeline_proto::{ConsoleReply, ErrorCode, Failure};
use std::time::Instant;
use tracing::info;

/// Revokes the token this connection logged in with: a copy of it left on
/// disk (or stolen) stops working at once.
pub(crate) async fn logout(ctx: &Ctx, person: &Person) -> Result<ConsoleReply, Failure> {
    let hash = person.token_hash;
    ctx.store
        .call(move |s| s.revoke_auth_token(&hash))
        .await
        .map_err(internal)?;
    info!(user = %person.name, "logout");
    ctx.audit(NewEntry::new(
        &person.name,
        "logout",
        &person.name,
        String::new(),
    ))
    .await;
    Ok(ConsoleReply::Done)
}

fn admins_only(person: &Person, what: &str) -> Result<(), Failure> {
    if person.role.may_manage() {
        Ok(())
    } else {
        Err(failure(
            ErrorCode::Forbidden,
            format!("only admins {what} (you are {})", person.role),
        ))
    }
}

/// Marks the machine revoked and drops its agent's connection: the agent
/// can neither come back nor keep a session going.
pub(crate) async fn revoke_machine(
    ctx: &Ctx,
    person: &Person,
    id: String,
    hostname: String,
) -> Result<ConsoleReply, Failure> {
    admins_only(person, "revoke machines")?;
    let mid = id.clone();
    ctx.store
        .call(move |s| s.revoke_machine(&mid))
        .await
        .map_err(internal)?;
    let was_online = ctx.hub.revoke_agent(&id, Instant::now());
    info!(machine = %id, was_online, "machine revoked");
    ctx.audit(NewEntry::new(
        &person.name,
        "machine-revoked",
        &id,
        format!("{hostname}{}", if was_online { ", was online" } else { "" }),
    ))
    .await;
    Ok(ConsoleReply::Done)
}

/// Revokes an enrollment token given as its text (only its hash is stored).
pub(crate) async fn revoke_enroll_token(
    ctx: &Ctx,
    person: &Person,
    token: &str,
) -> Result<ConsoleReply, Failure> {
    admins_only(person, "revoke enrollment tokens")?;
    let hash = auth::token_hash(token.trim());
    let found = ctx
        .store
        .call(move |s| s.revoke_enroll_token(&hash))
        .await
        .map_err(internal)?;
    if !found {
        return Err(failure(
            ErrorCode::NotFound,
            "no such enrollment token on this relay",
        ));
    }
    info!("enrollment token revoked");
    ctx.audit(NewEntry::new(
        &person.name,
        "enroll-token-revoked",
        "-",
        String::new(),
    ))
    .await;
    Ok(ConsoleReply::Done)
}

/// Keeps an organisation's approval of a technician's key. The relay
/// cannot check the signature (it never sees the organisation's key, and
/// need not be trusted with it); machines do.
pub(crate) async fn approve_technician(
    ctx: &Ctx,
    person: &Person,
    cert: lifeline_proto::orgcert::TechCert,
) -> Result<ConsoleReply, Failure> {
    admins_only(person, "approve technicians' keys")?;
    if cert.key.len() != lifeline_net::e2e::KEY_LEN {
        return Err(failure(
            ErrorCode::BadRequest,
            format!(
                "the approved key is {} bytes; end-to-end keys are {}",
                cert.key.len(),
                lifeline_net::e2e::KEY_LEN
            ),
        ));
    }
    let details = format!(
        "key {}, until {}, organisation {}",
        hex::encode(&cert.key[..8]),
        cert.expires_unix,
        hex::encode(cert.org_key.get(..8).unwrap_or_default())
    );
    let user = cert.user.clone();
    let known = ctx
        .store
        .call(move |s| s.set_tech_cert(&cert))
        .await
        .map_err(internal)?;
    if !known {
        return Err(failure(ErrorCode::NotFound, format!("no user {user}")));
    }
    info!(user = %user, "technician key approved");
    ctx.audit(NewEntry::new(
        &person.name,
        "technician-approved",
        &user,
        details,
    ))
    .await;
    Ok(ConsoleReply::Done)
}
