//! The machines a console sees: `lifeline machines` a page at a time (a
//! fleet past about 55,000 machines does not fit in the 8 MiB a message
//! carries), and finding one machine by id or hostname. Visibility is
//! filtered by the store (a technician's groups), so no listing returns, or
//! spends a page on, a machine she does not see.

use crate::{
    console_conn::{Person, failure, internal},
    console_export::{MAX_PAGE_BYTES, PAGE_BYTES},
    console_pages::{Pager, too_large},
    server::Ctx,
    store::{MachineQuery, MachineRecord},
};
use lifeline_net::unix_secs;
use lifeline_proto::{
    ConsoleReply, ErrorCode, Failure, MACHINE_PAGES_VERSION, MachineCursor, MachineRow,
};
use std::time::Instant;

/// The machines `person` sees, as a store query ([`Person::limited_to`]).
pub(crate) fn seen_by(person: &Person) -> MachineQuery {
    MachineQuery {
        groups: person.limited_to().map(<[String]>::to_vec),
        ..MachineQuery::default()
    }
}

/// Every machine `person` sees, by hostname.
pub(crate) async fn visible_machines(
    ctx: &Ctx,
    person: &Person,
) -> Result<Vec<MachineRecord>, Failure> {
    let query = seen_by(person);
    ctx.store
        .call(move |s| s.machines(&query))
        .await
        .map_err(internal)
}

/// A page of the machines `person` sees past `after`, by hostname then id;
/// with `stale_secs`, only those offline and not heard from for that long.
async fn machine_page(
    ctx: &Ctx,
    person: &Person,
    stale_secs: Option<u64>,
    after: Option<MachineCursor>,
    mut page: Pager<MachineRow, MachineCursor>,
) -> Result<(Vec<MachineRow>, Option<MachineCursor>), Failure> {
    let mut query = seen_by(person);
    query.seen_before = stale_secs.map(|s| unix_secs().saturating_sub(s));
    let stale = stale_secs.is_some();
    let online = ctx.hub.online_now(Instant::now());
    ctx.store
        .call(move |s| {
            s.machine_scan(&query, after.as_ref(), &mut |m| {
                let live = online.get(&m.id).copied();
                // The store's last-seen time lags an agent still connected.
                if stale && live.is_some() {
                    return true;
                }
                let key = MachineCursor {
                    hostname: m.info.hostname.clone(),
                    id: m.id.clone(),
                };
                page.offer(key, row(m, live))
            })?;
            Ok::<_, crate::store::StoreError>(page.finish())
        })
        .await
        .map_err(internal)
}

fn row(m: MachineRecord, live: Option<u64>) -> MachineRow {
    MachineRow {
        online: live.is_some(),
        last_seen_unix: live.or(m.last_seen_unix),
        id: m.id,
        hostname: m.info.hostname,
        os: m.info.os,
        arch: m.info.arch,
        group: m.group,
        enrolled_unix: m.enrolled_unix,
        unattended: m.unattended,
        revoked: m.revoked,
    }
}

/// Every machine `person` sees in one answer (consoles before version 5),
/// or refused once past a message.
pub(crate) async fn machines_whole(ctx: &Ctx, person: &Person) -> Result<ConsoleReply, Failure> {
    match machine_page(ctx, person, None, None, Pager::whole()).await? {
        (rows, None) => Ok(ConsoleReply::Machines(rows)),
        (_, Some(_)) => Err(too_large(
            "one group's machines: `lifeline inventory export --group`",
            MACHINE_PAGES_VERSION,
        )),
    }
}

/// A page of the machines `person` sees, past `after`.
pub(crate) async fn machines(
    ctx: &Ctx,
    person: &Person,
    stale_secs: Option<u64>,
    after: Option<MachineCursor>,
) -> Result<ConsoleReply, Failure> {
    let page = Pager::new(PAGE_BYTES, MAX_PAGE_BYTES);
    let (rows, next) = machine_page(ctx, person, stale_secs, after, page).await?;
    Ok(ConsoleReply::MachinesPage { rows, next })
}

/// Finds a machine by exact id, else by unique hostname (case-insensitive),
/// and checks that `person` may see it.
pub(crate) async fn resolve_machine(
    ctx: &Ctx,
    person: &Person,
    name: &str,
) -> Result<(String, String), Failure> {
    resolve_record(ctx, person, name)
        .await
        .map(|m| (m.id, m.info.hostname))
}

/// Like [`resolve_machine`], returning the whole record.
pub(crate) async fn resolve_record(
    ctx: &Ctx,
    person: &Person,
    name: &str,
) -> Result<MachineRecord, Failure> {
    let owned = name.to_string();
    let (by_id, mut matches) = ctx
        .store
        .call(move |s| {
            if let Some(m) = s.machine(&owned)? {
                return Ok((Some(m), Vec::new()));
            }
            let named = MachineQuery {
                hostname: Some(owned),
                ..MachineQuery::default()
            };
            Ok::<_, crate::store::StoreError>((None, s.machines(&named)?))
        })
        .await
        .map_err(internal)?;
    let outside = |m: &MachineRecord| {
        failure(
            ErrorCode::Forbidden,
            format!(
                "{} is in group {}, outside your groups ({})",
                m.info.hostname,
                m.group.as_deref().unwrap_or("(none)"),
                person.groups.join(", ")
            ),
        )
    };
    if let Some(m) = by_id {
        if !person.sees(m.group.as_deref()) {
            return Err(outside(&m));
        }
        return Ok(m);
    }
    // A machine enrolled again after a revocation keeps its hostname: the
    // live one is meant.
    if matches.iter().any(|m| !m.revoked) {
        matches.retain(|m| !m.revoked);
    }
    match matches.as_slice() {
        [m] if !person.sees(m.group.as_deref()) => Err(outside(m)),
        [_] => Ok(matches.remove(0)),
        [] => Err(failure(
            ErrorCode::NotFound,
            format!("no machine named {name:?}"),
        )),
        many => Err(failure(
            ErrorCode::Ambiguous,
            format!(
                "{} machines are named {name:?}; use an id: {}",
                many.len(),
                many.iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}
