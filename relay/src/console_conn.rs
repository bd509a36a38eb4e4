//! A console's connection: requests on the control stream, session streams
//! spliced to agents.

pub(crate) use crate::console_machines::{resolve_machine, resolve_record, visible_machines};
use crate::{
    audit::NewEntry,
    auth, console_tickets,
    server::{ConnError, Ctx},
    store::{NewEnrollToken, StoreError},
};
use lifeline_net::{read_msg, unix_secs};
use lifeline_proto::{
    CloseCode, ConsoleReply, ConsoleRequest, EndReason, ErrorCode, Failure, MAX_FRAME_LEN,
    RelayToConsole, Request, Response, Role,
};
use std::{
    sync::Arc,
    time::{Duration, Instant},
};
use tokio::sync::mpsc;
use tracing::{Instrument, info, warn};

/// The logged-in person behind a console connection.
#[derive(Clone, Debug)]
pub struct Person {
    pub user_id: i64,
    pub name: String,
    pub role: Role,
    /// Machine groups a technician works on; empty means all.
    pub groups: Vec<String>,
    /// The session token this connection stands on.
    pub token_hash: [u8; 32],
    /// The console's end-to-end public key (bound to that token).
    pub e2e_key: Vec<u8>,
}

impl Person {
    /// The groups this person's view of the fleet is limited to, `None`
    /// for the whole fleet: admins and auditors see it all; technicians the
    /// machines of their groups (all, when they have none).
    pub fn limited_to(&self) -> Option<&[String]> {
        (self.role == Role::Technician && !self.groups.is_empty()).then_some(&self.groups[..])
    }

    /// May this person see a machine of `group`?
    pub fn sees(&self, group: Option<&str>) -> bool {
        self.limited_to()
            .is_none_or(|groups| group.is_some_and(|g| groups.iter().any(|x| x == g)))
    }
}

/// Longest enrollment-token lifetime an admin can ask for.
const MAX_ENROLL_TTL: Duration = Duration::from_secs(90 * 24 * 3600);

/// Runs a console connection until it ends.
///
/// # Errors
/// Protocol breaches and lost connections.
pub async fn serve(
    ctx: Arc<Ctx>,
    conn: quinn::Connection,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
    person: Person,
) -> Result<(), ConnError> {
    let conn_id = ctx.hub.conn_id();
    let (tx, mut rx) = mpsc::unbounded_channel::<RelayToConsole>();
    // Requests read and not yet answered on the wire: a console that sends
    // and never reads is read no further (its answers would pile up here).
    let budget = Arc::new(tokio::sync::Semaphore::new(MAX_REQUESTS_PENDING));
    let refill = budget.clone();
    let stalled = conn.clone();
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let answer = matches!(msg, RelayToConsole::Response(_));
            let written = match within_limit(msg) {
                Some(bytes) => crate::server::write_unless_stalled(&mut send, &bytes).await,
                None => Ok(()),
            };
            if answer {
                refill.add_permits(1);
            }
            match written {
                Ok(()) => {}
                Err(Some(())) => {
                    warn!("closing a console that stopped reading");
                    stalled.close(
                        CloseCode::Protocol.code().into(),
                        b"the console stopped reading its answers",
                    );
                    break;
                }
                Err(None) => {
                    // Answers can no longer go out: end the connection
                    // rather than read requests nobody hears answered.
                    stalled.close(
                        CloseCode::Protocol.code().into(),
                        b"the console's answer stream failed",
                    );
                    break;
                }
            }
        }
    });
    let watching = std::sync::atomic::AtomicBool::new(false);
    let requests = async {
        while let Some(req) = read_msg::<Request>(&mut recv, MAX_FRAME_LEN).await? {
            budget
                .acquire()
                .await
                .map_err(|_| ConnError::Lost("closing".into()))?
                .forget();
            if matches!(req.body, ConsoleRequest::WatchTickets)
                && watching.swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                // One watcher per connection: it is on already.
                let body = Ok(ConsoleReply::Done);
                let _ = tx.send(RelayToConsole::Response(Response { id: req.id, body }));
                continue;
            }
            let ctx = ctx.clone();
            let person = person.clone();
            let tx = tx.clone();
            let id = req.id;
            let answer = tx.clone();
            let work = tokio::spawn(
                async move { handle(&ctx, &person, conn_id, &tx, req.body).await }
                    .in_current_span(),
            );
            // Every request is answered, even one whose handler failed
            // outright: the answer returns the request's place in the
            // budget, and the console is not left waiting.
            tokio::spawn(async move {
                let body = work.await.unwrap_or_else(|e| {
                    warn!("a console request failed: {e}");
                    Err(failure(
                        ErrorCode::Internal,
                        "the relay failed on this request; see its log",
                    ))
                });
                let _ = answer.send(RelayToConsole::Response(Response { id, body }));
            });
        }
        Ok::<(), ConnError>(())
    };
    let streams = crate::console_session::accept_streams(&ctx, &conn, conn_id);
    let result = tokio::select! {
        r = requests => r,
        r = streams => r,
    };
    ctx.hub.console_gone(conn_id, Instant::now());
    writer.abort();
    result
}

/// Requests a console may have read and not yet answered on the wire.
pub const MAX_REQUESTS_PENDING: usize = 16;

/// `msg` encoded; for an answer too large for one message (every session
/// log of a month, with their chats) a refusal that says so, since
/// unanswered the console would wait in vain; `None` for an event that
/// large (dropped: the connection goes on).
fn within_limit(msg: RelayToConsole) -> Option<Vec<u8>> {
    match lifeline_proto::encode_message(&msg, MAX_FRAME_LEN) {
        Ok(bytes) => Some(bytes),
        Err(e) => {
            let size = lifeline_proto::encoded_len(&msg);
            warn!(size, "cannot send to a console: {e}");
            let RelayToConsole::Response(r) = msg else {
                return None;
            };
            let refusal = RelayToConsole::Response(Response {
                id: r.id,
                body: Err(failure(
                    ErrorCode::BadRequest,
                    format!(
                        "the answer would take {:.1} MiB, more than the {} MiB a message \
                         carries: ask for less (a shorter --since, one --machine, one \
                         session)",
                        size as f64 / 1_048_576.0,
                        MAX_FRAME_LEN / 1_048_576
                    ),
                )),
            });
            lifeline_proto::encode_message(&refusal, MAX_FRAME_LEN).ok()
        }
    }
}

pub(crate) fn failure(code: ErrorCode, message: impl Into<String>) -> Failure {
    Failure {
        code,
        message: message.into(),
    }
}

pub(crate) fn internal(e: StoreError) -> Failure {
    if e.is_write_refused() {
        tracing::error!("cannot write the store (disk full or failing): {e}");
        return failure(
            ErrorCode::Internal,
            "the relay could not store this: its data directory is full or failing, so \
             nothing was stored; an admin must free space on the relay",
        );
    }
    warn!("store failure: {e}");
    failure(ErrorCode::Internal, "internal error on the relay")
}

async fn handle(
    ctx: &Arc<Ctx>,
    person: &Person,
    conn_id: u64,
    tx: &mpsc::UnboundedSender<RelayToConsole>,
    req: ConsoleRequest,
) -> Result<ConsoleReply, Failure> {
    match req {
        ConsoleRequest::Whoami => Ok(ConsoleReply::Whoami {
            user: person.name.clone(),
            role: person.role,
        }),
        ConsoleRequest::CreateEnrollToken {
            group,
            ttl_secs,
            max_uses,
        } => create_enroll_token(ctx, person, group, ttl_secs, max_uses).await,
        ConsoleRequest::ListMachines => crate::console_machines::machines_whole(ctx, person).await,
        ConsoleRequest::MachinesPage { stale_secs, after } => {
            crate::console_machines::machines(ctx, person, stale_secs, after).await
        }
        ConsoleRequest::OpenSession {
            machine,
            purpose,
            permission,
            ticket,
        } => {
            crate::console_session::open_session(
                ctx, person, conn_id, tx, &machine, purpose, permission, ticket,
            )
            .await
        }
        ConsoleRequest::CloseSession { session } => {
            if !ctx.hub.console_owns(conn_id, session) {
                return Err(failure(
                    ErrorCode::NotFound,
                    format!("no session {session}"),
                ));
            }
            ctx.hub
                .end(session, EndReason::ConsoleClosed, Instant::now());
            Ok(ConsoleReply::Done)
        }
        ConsoleRequest::Logout => crate::console_admin::logout(ctx, person).await,
        ConsoleRequest::RevokeMachine { machine } => {
            let (id, hostname) = resolve_machine(ctx, person, &machine).await?;
            crate::console_admin::revoke_machine(ctx, person, id, hostname).await
        }
        ConsoleRequest::RevokeEnrollToken { token } => {
            crate::console_admin::revoke_enroll_token(ctx, person, token.expose()).await
        }
        ConsoleRequest::ApproveTechnician { cert } => {
            crate::console_admin::approve_technician(ctx, person, cert).await
        }
        ConsoleRequest::Inventory { machine } => {
            let (id, hostname) = resolve_machine(ctx, person, &machine).await?;
            let mid = id.clone();
            let (inv, present, updated) = ctx
                .store
                .call(move |s| crate::inventory::load(s, &mid))
                .await
                .map_err(internal)?;
            if !present {
                return Err(failure(
                    ErrorCode::NotFound,
                    format!("no inventory from {hostname} yet"),
                ));
            }
            let json = serde_json::to_vec(&inv)
                .map_err(|e| failure(ErrorCode::Internal, e.to_string()))?;
            Ok(ConsoleReply::Inventory {
                machine_id: id,
                hostname,
                updated_unix: updated,
                json,
            })
        }
        ConsoleRequest::InventoryHistory {
            machine,
            since_unix,
        } => {
            let (id, _) = resolve_machine(ctx, person, &machine).await?;
            // Read-only: on the lookups connection, so a long history does
            // not hold up the writes queued on the store.
            let rows = ctx
                .lookups
                .call(move |s| s.inventory_history(&id, since_unix))
                .await
                .map_err(internal)?;
            Ok(ConsoleReply::History(rows))
        }
        ConsoleRequest::InventoryFind(query) => find(ctx, person, query).await,
        ConsoleRequest::InventoryExport { group } => {
            crate::console_export::export(ctx, person, group).await
        }
        ConsoleRequest::InventoryExportPage { group, after } => {
            crate::console_export::page(ctx, person, group, after).await
        }
        ConsoleRequest::Audit { since_unix, actor } => {
            crate::console_pages::audit_whole(ctx, person, since_unix, actor).await
        }
        ConsoleRequest::SetPolicy {
            machine,
            unattended,
        } => {
            if !person.role.may_manage() {
                return Err(failure(
                    ErrorCode::Forbidden,
                    "only admins set machine policy",
                ));
            }
            let (id, hostname) = resolve_machine(ctx, person, &machine).await?;
            let mid = id.clone();
            ctx.store
                .call(move |s| s.set_unattended(&mid, unattended))
                .await
                .map_err(internal)?;
            let policy = if unattended { "unattended" } else { "attended" };
            info!(machine = %id, policy, "machine policy set");
            ctx.audit(NewEntry::new(
                &person.name,
                "machine-policy-set",
                &id,
                format!("{hostname}: {policy}"),
            ))
            .await;
            Ok(ConsoleReply::Done)
        }
        ConsoleRequest::Tickets { mine, status, tier } => {
            console_tickets::tickets_whole(ctx, person, mine, status, tier).await
        }
        ConsoleRequest::TicketsPage {
            mine,
            status,
            tier,
            created_since,
            after,
        } => {
            let query = crate::store::TicketQuery {
                created_since,
                ..console_tickets::query(person, mine, status, tier)
            };
            console_tickets::tickets(ctx, person, query, after).await
        }
        ConsoleRequest::TicketShow { ticket } => console_tickets::show(ctx, person, ticket).await,
        ConsoleRequest::TicketUpdate { ticket, change } => {
            console_tickets::update(ctx, person, ticket, change).await
        }
        ConsoleRequest::SessionShow { session } => {
            console_tickets::session_show(ctx, person, session).await
        }
        ConsoleRequest::Sessions {
            machine,
            since_unix,
        } => crate::console_pages::sessions_whole(ctx, person, machine, since_unix).await,
        ConsoleRequest::SessionsPage {
            machine,
            since_unix,
            after,
        } => crate::console_pages::sessions(ctx, person, machine, since_unix, after).await,
        ConsoleRequest::AuditPage {
            since_unix,
            actor,
            after,
        } => crate::console_pages::audit(ctx, person, since_unix, actor, after).await,
        ConsoleRequest::WatchTickets => {
            console_tickets::watch(ctx.clone(), person.clone(), tx.clone());
            Ok(ConsoleReply::Done)
        }
        ConsoleRequest::AuditVerify => crate::console_pages::audit_verify(ctx, person).await,
        ConsoleRequest::RefreshInventory { machine } => {
            let (id, hostname) = resolve_machine(ctx, person, &machine).await?;
            if ctx
                .hub
                .send_to_agent(&id, lifeline_proto::RelayToAgent::RefreshInventory)
            {
                Ok(ConsoleReply::Done)
            } else {
                Err(failure(
                    ErrorCode::MachineOffline,
                    format!("machine offline: {hostname} ({id})"),
                ))
            }
        }
    }
}

pub(crate) fn may_audit(person: &Person) -> Result<(), Failure> {
    match person.role {
        Role::Admin | Role::Auditor => Ok(()),
        Role::Technician => Err(failure(
            ErrorCode::Forbidden,
            "only admins and auditors read the audit log",
        )),
    }
}

async fn find(
    ctx: &Ctx,
    person: &Person,
    query: lifeline_proto::inventory::InventoryQuery,
) -> Result<ConsoleReply, Failure> {
    use lifeline_proto::inventory::InventoryQuery;
    let machines = visible_machines(ctx, person).await?;
    let pairs = match query {
        InventoryQuery::Software { name, version } => ctx
            .store
            .call(move |s| crate::inventory::find_software(s, &name, &version))
            .await
            .map_err(internal)?,
        InventoryQuery::Hardware { field, value } => {
            let (k, v) = (field.to_lowercase(), value.to_lowercase());
            ctx.store
                .call(move |s| s.find_hardware(&k, &v))
                .await
                .map_err(internal)?
        }
    };
    Ok(ConsoleReply::Found(crate::inventory::found_rows(
        pairs, &machines,
    )))
}

async fn create_enroll_token(
    ctx: &Ctx,
    person: &Person,
    group: Option<String>,
    ttl_secs: u64,
    max_uses: Option<u32>,
) -> Result<ConsoleReply, Failure> {
    if !person.role.may_manage() {
        return Err(failure(
            ErrorCode::Forbidden,
            format!(
                "only admins create enrollment tokens (you are {})",
                person.role
            ),
        ));
    }
    if ttl_secs == 0 || ttl_secs > MAX_ENROLL_TTL.as_secs() {
        return Err(failure(
            ErrorCode::BadRequest,
            "token lifetime must be between 1 s and 90 days",
        ));
    }
    if max_uses == Some(0) {
        return Err(failure(ErrorCode::BadRequest, "--uses must be at least 1"));
    }
    let token = auth::new_token("lle_");
    let now = unix_secs();
    let record = NewEnrollToken {
        hash: auth::token_hash(&token),
        group: group.clone(),
        created_by: person.user_id,
        created_unix: now,
        expires_unix: now + ttl_secs,
        max_uses,
    };
    ctx.store
        .call(move |s| s.add_enroll_token(&record))
        .await
        .map_err(internal)?;
    info!(?group, ttl_secs, "enrollment token created");
    ctx.audit(NewEntry::new(
        &person.name,
        "enroll-token-created",
        group.as_deref().unwrap_or("-"),
        format!(
            "ttl {ttl_secs} s, uses {}",
            max_uses.map_or_else(|| "unlimited".to_string(), |u| u.to_string())
        ),
    ))
    .await;
    Ok(ConsoleReply::EnrollToken {
        token: lifeline_proto::Secret::new(token),
        expires_unix: now + ttl_secs,
        group,
    })
}
