//! A console's ticket and session-log requests: the queue, one ticket,
//! changes (with news for watchers and webhooks), session logs, and
//! `tickets --watch`.

use crate::{
    audit::NewEntry,
    console_conn::{Person, failure, internal, resolve_machine},
    console_export::{MAX_PAGE_BYTES, PAGE_BYTES},
    console_pages::{Pager, too_large},
    server::Ctx,
    store::TicketQuery,
};
use lifeline_net::unix_secs;
use lifeline_proto::{
    ConsoleReply, ErrorCode, Failure, RelayToConsole,
    ticket::{STATUSES, TicketChange, TicketRow},
};
use std::sync::Arc;
use tokio::sync::mpsc;
use tracing::{Instrument, warn};

/// A page of the tickets numbered below `after` (newest first) of the
/// machines `person` sees that match `query`.
async fn ticket_page(
    ctx: &Ctx,
    person: &Person,
    query: TicketQuery,
    after: Option<u64>,
    mut page: Pager<TicketRow, u64>,
) -> Result<(Vec<TicketRow>, Option<u64>), Failure> {
    if let Some(st) = &query.status
        && !STATUSES.contains(&st.as_str())
    {
        return Err(failure(
            ErrorCode::BadRequest,
            format!("no ticket status {st:?}: ask for {}", STATUSES.join(", ")),
        ));
    }
    if let Some(tier) = query.tier
        && !(1..=3).contains(&tier)
    {
        return Err(failure(
            ErrorCode::BadRequest,
            format!("no tier {tier}: tickets are of tier 1, 2 or 3"),
        ));
    }
    let groups = person.limited_to().map(<[String]>::to_vec);
    ctx.store
        .call(move |s| {
            s.ticket_scan(&query, groups.as_deref(), after, &mut |t| {
                page.offer(t.id, t)
            })?;
            Ok::<_, crate::store::StoreError>(page.finish())
        })
        .await
        .map_err(internal)
}

/// What a console asks for in its ticket listing: `mine` names the one
/// asking.
pub(crate) fn query(
    person: &Person,
    mine: bool,
    status: Option<String>,
    tier: Option<u8>,
) -> TicketQuery {
    TicketQuery {
        assignee: mine.then(|| person.name.clone()),
        status,
        tier,
        created_since: 0,
        machine: None,
    }
}

/// Tickets, filtered, of machines `person` sees, in one answer (consoles
/// before version 4), or refused once past a message.
pub(crate) async fn tickets_whole(
    ctx: &Ctx,
    person: &Person,
    mine: bool,
    status: Option<String>,
    tier: Option<u8>,
) -> Result<ConsoleReply, Failure> {
    let q = query(person, mine, status, tier);
    match ticket_page(ctx, person, q, None, Pager::whole()).await? {
        (rows, None) => Ok(ConsoleReply::Tickets(rows)),
        (_, Some(_)) => Err(too_large(
            "--status, --tier or --mine; a shorter --since for a report",
            lifeline_proto::TICKET_PAGES_VERSION,
        )),
    }
}

/// A page of tickets, filtered, of machines `person` sees: those numbered
/// below `after`, newest first (`query.assignee` is `person` or nobody).
pub(crate) async fn tickets(
    ctx: &Ctx,
    person: &Person,
    query: TicketQuery,
    after: Option<u64>,
) -> Result<ConsoleReply, Failure> {
    let page = Pager::new(PAGE_BYTES, MAX_PAGE_BYTES);
    let (rows, next) = ticket_page(ctx, person, query, after, page).await?;
    Ok(ConsoleReply::TicketsPage { rows, next })
}

/// One ticket in full.
pub(crate) async fn show(ctx: &Ctx, person: &Person, ticket: u64) -> Result<ConsoleReply, Failure> {
    let detail = load_ticket(ctx, person, ticket).await?;
    Ok(ConsoleReply::Ticket(Box::new(detail)))
}

/// Changes a ticket; watchers, webhooks and the machine hear of it.
pub(crate) async fn update(
    ctx: &Ctx,
    person: &Person,
    ticket: u64,
    change: TicketChange,
) -> Result<ConsoleReply, Failure> {
    if !person.role.may_connect() {
        return Err(failure(
            ErrorCode::Forbidden,
            "auditors cannot change tickets",
        ));
    }
    load_ticket(ctx, person, ticket).await?;
    let actor = person.name.clone();
    let change = change.cleaned();
    let c = change.clone();
    let result = ctx
        .store
        .call(move |s| Ok(s.update_ticket(ticket, &actor, &c, unix_secs())))
        .await
        .map_err(internal)?;
    match result {
        Ok(()) => {}
        Err(crate::store::TicketError::Store(e)) => return Err(internal(e)),
        Err(crate::store::TicketError::NotFound(id)) => {
            return Err(failure(ErrorCode::NotFound, format!("no ticket {id}")));
        }
        Err(crate::store::TicketError::Invalid(why)) => {
            return Err(failure(ErrorCode::BadRequest, why));
        }
    }
    ctx.audit(NewEntry::new(
        &person.name,
        "ticket-changed",
        &format!("ticket {ticket}"),
        format!("{change:?}"),
    ))
    .await;
    crate::notify::ticket_changed(ctx, ticket).await;
    Ok(ConsoleReply::Done)
}

/// One session's log, if its machine is visible to `person`.
pub(crate) async fn session_show(
    ctx: &Ctx,
    person: &Person,
    session: u64,
) -> Result<ConsoleReply, Failure> {
    let log = ctx
        .store
        .call(move |s| s.session(session))
        .await
        .map_err(internal)?
        .ok_or_else(|| failure(ErrorCode::NotFound, format!("no session {session}")))?;
    resolve_machine(ctx, person, &log.machine_id)
        .await
        .map_err(|_| failure(ErrorCode::NotFound, format!("no session {session}")))?;
    Ok(ConsoleReply::Session(Box::new(log)))
}

/// Forwards ticket news about machines `person` sees until the console
/// goes away.
pub(crate) fn watch(ctx: Arc<Ctx>, person: Person, tx: mpsc::UnboundedSender<RelayToConsole>) {
    let mut news = ctx.news.subscribe();
    tokio::spawn(
        async move {
            loop {
                let n = tokio::select! {
                    () = tx.closed() => return,
                    n = news.recv() => n,
                };
                let n = match n {
                    Ok(n) => n,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(k)) => {
                        warn!("a ticket watcher fell {k} events behind");
                        continue;
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                };
                let id = n.ticket.machine_id.clone();
                let group = match ctx.store.call(move |s| s.machine(&id)).await {
                    Ok(Some(m)) => m.group,
                    _ => continue,
                };
                if person.sees(group.as_deref())
                    && tx
                        .send(RelayToConsole::Event(
                            lifeline_proto::ConsoleEvent::TicketChanged(Box::new(n)),
                        ))
                        .is_err()
                {
                    return;
                }
            }
        }
        .in_current_span(),
    );
}

/// A ticket, if it exists and its machine is visible to `person`.
async fn load_ticket(
    ctx: &Ctx,
    person: &Person,
    ticket: u64,
) -> Result<lifeline_proto::ticket::TicketDetail, Failure> {
    let detail = ctx
        .store
        .call(move |s| s.ticket(ticket))
        .await
        .map_err(internal)?
        .ok_or_else(|| failure(ErrorCode::NotFound, format!("no ticket {ticket}")))?;
    resolve_machine(ctx, person, &detail.row.machine_id).await?;
    Ok(detail)
}
