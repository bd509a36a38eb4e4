//! `lifeline inventory export`: every visible machine's inventory as JSON,
//! in pages of about [`PAGE_BYTES`], so that a fleet of any size leaves the
//! relay (a whole fleet in one answer stopped at about 50 machines, one
//! message carrying at most 8 MiB).

use crate::{
    audit::NewEntry,
    console_conn::{Person, failure, internal},
    console_machines::seen_by,
    console_pages::Pager,
    server::Ctx,
    store::{MachineQuery, MachineRecord},
};
use lifeline_proto::{ConsoleReply, ErrorCode, Failure};
use tracing::info;

/// A page ends once its rows take this many bytes of JSON (at least one
/// machine a page, whatever its size).
pub const PAGE_BYTES: usize = 2 * 1024 * 1024;

/// A page never grows past this (a message's limit, less room for the
/// rest of the answer) unless a single machine's row does.
pub const MAX_PAGE_BYTES: usize = lifeline_proto::MAX_FRAME_LEN - 64 * 1024;

/// Machines read from the store at a time while a page fills.
const CHUNK: usize = 64;

/// The machines an export of `group` (every group when `None`) covers for
/// `person`; `None` when that is none (a group outside hers).
fn covered(person: &Person, group: Option<&str>) -> Option<MachineQuery> {
    match group {
        None => Some(seen_by(person)),
        Some(g) if person.sees(Some(g)) => Some(MachineQuery {
            groups: Some(vec![g.to_string()]),
            ..MachineQuery::default()
        }),
        Some(_) => None,
    }
}

/// Up to `most` of the machines `query` covers, by id, above `after`.
async fn machines_after(
    ctx: &Ctx,
    query: &MachineQuery,
    after: Option<String>,
    most: usize,
) -> Result<Vec<MachineRecord>, Failure> {
    let query = query.clone();
    ctx.store
        .call(move |s| {
            let mut out = Vec::new();
            s.machine_scan_by_id(&query, after.as_deref(), &mut |m| {
                out.push(m);
                out.len() < most
            })?;
            Ok(out)
        })
        .await
        .map_err(internal)
}

/// One machine's row: its inventory as stored, `null` until it uploaded.
async fn row(ctx: &Ctx, m: &MachineRecord) -> Result<Vec<u8>, Failure> {
    let id = m.id.clone();
    let (inv, present, updated) = ctx
        .store
        .call(move |s| crate::inventory::load(s, &id))
        .await
        .map_err(internal)?;
    let row = serde_json::json!({
        "machine_id": m.id,
        "hostname": m.info.hostname,
        "group": m.group,
        "updated_unix": if present { Some(updated) } else { None },
        "inventory": if present { serde_json::to_value(&inv).ok() } else { None },
    });
    serde_json::to_vec(&row).map_err(|e| failure(ErrorCode::Internal, e.to_string()))
}

async fn audit(ctx: &Ctx, person: &Person, group: Option<&str>, machines: usize) {
    info!(machines, "inventory exported");
    ctx.audit(NewEntry::new(
        &person.name,
        "inventory-exported",
        group.unwrap_or("all"),
        format!("{machines} machines"),
    ))
    .await;
}

/// The whole export in one answer (consoles before pages; refused with a
/// reason when it does not fit in a message).
pub(crate) async fn export(
    ctx: &Ctx,
    person: &Person,
    group: Option<String>,
) -> Result<ConsoleReply, Failure> {
    let machines = match covered(person, group.as_deref()) {
        Some(q) => machines_after(ctx, &q, None, usize::MAX).await?,
        None => Vec::new(),
    };
    let mut rows = Vec::with_capacity(machines.len());
    for m in &machines {
        rows.push(row(ctx, m).await?);
    }
    audit(ctx, person, group.as_deref(), machines.len()).await;
    Ok(ConsoleReply::Export(json_array(&rows)))
}

/// The page of machines after the one with id `after` (from the first
/// when `None`), and the id to ask for the next page with, if any. The
/// store is read a few machines at a time from `after` on, by id.
pub(crate) async fn page(
    ctx: &Ctx,
    person: &Person,
    group: Option<String>,
    after: Option<String>,
) -> Result<ConsoleReply, Failure> {
    let query = covered(person, group.as_deref());
    if after.is_none() {
        // One entry an export, when it starts.
        let n = match &query {
            Some(q) => count(ctx, q).await?,
            None => 0,
        };
        audit(ctx, person, group.as_deref(), n).await;
    }
    let mut page = Pager::new(PAGE_BYTES, MAX_PAGE_BYTES);
    let mut cursor = after;
    'fill: while let Some(q) = &query {
        let chunk = machines_after(ctx, q, cursor.take(), CHUNK).await?;
        let last = chunk.len() < CHUNK;
        for m in chunk {
            // A full page ends before this machine's row is read.
            if page.full_before_next() {
                break 'fill;
            }
            // A large machine after a full page goes first on the next
            // one, so that no page outgrows a message.
            let r = row(ctx, &m).await?;
            cursor = Some(m.id.clone());
            if !page.offer(m.id, r) {
                break 'fill;
            }
        }
        if last {
            break;
        }
    }
    let (rows, next) = page.finish();
    Ok(ConsoleReply::ExportPage {
        rows: json_array(&rows),
        next,
    })
}

/// How many machines `query` covers.
async fn count(ctx: &Ctx, query: &MachineQuery) -> Result<usize, Failure> {
    let query = query.clone();
    ctx.store
        .call(move |s| s.machine_count(&query))
        .await
        .map_err(internal)
}

/// `[a,b,…]` of JSON values already encoded.
fn json_array(rows: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(rows.iter().map(|r| r.len() + 1).sum::<usize>() + 2);
    out.push(b'[');
    for (i, r) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(r);
    }
    out.push(b']');
    out
}
