//! `lifeline inventory export`: every visible machine's inventory as JSON,
//! in pages of about [`PAGE_BYTES`], so that a fleet of any size leaves the
//! relay (a whole fleet in one answer stopped at about 50 machines, one
//! message carrying at most 8 MiB).

use crate::store::MachineRecord;
use crate::{
    audit::NewEntry,
    console_conn::{Person, failure, internal, visible_machines},
    server::Ctx,
};
use lifeline_proto::{ConsoleReply, ErrorCode, Failure};
use tracing::info;

/// A page ends once its rows take this many bytes of JSON (at least one
/// machine a page, whatever its size).
pub const PAGE_BYTES: usize = 2 * 1024 * 1024;

/// A page never grows past this (a message's limit, less room for the
/// rest of the answer) unless a single machine's row does.
pub const MAX_PAGE_BYTES: usize = lifeline_proto::MAX_FRAME_LEN - 64 * 1024;

/// The machines an export covers, by id.
async fn machines(
    ctx: &Ctx,
    person: &Person,
    group: Option<&str>,
) -> Result<Vec<MachineRecord>, Failure> {
    let mut machines: Vec<_> = visible_machines(ctx, person)
        .await?
        .into_iter()
        .filter(|m| group.is_none() || m.group.as_deref() == group)
        .collect();
    machines.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(machines)
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
    let machines = machines(ctx, person, group.as_deref()).await?;
    let mut rows = Vec::with_capacity(machines.len());
    for m in &machines {
        rows.push(row(ctx, m).await?);
    }
    audit(ctx, person, group.as_deref(), machines.len()).await;
    Ok(ConsoleReply::Export(json_array(&rows)))
}

/// The page of machines after the one with id `after` (from the first
/// when `None`), and the id to ask for the next page with, if any.
pub(crate) async fn page(
    ctx: &Ctx,
    person: &Person,
    group: Option<String>,
    after: Option<String>,
) -> Result<ConsoleReply, Failure> {
    let machines = machines(ctx, person, group.as_deref()).await?;
    if after.is_none() {
        // One entry an export, when it starts.
        audit(ctx, person, group.as_deref(), machines.len()).await;
    }
    let rest: Vec<&MachineRecord> = machines
        .iter()
        .filter(|m| after.as_deref().is_none_or(|a| m.id.as_str() > a))
        .collect();
    let (mut rows, mut bytes) = (Vec::new(), 0);
    for m in &rest {
        let r = row(ctx, m).await?;
        // A large machine after a full page goes first on the next one,
        // so that no page outgrows a message.
        if !rows.is_empty() && bytes + r.len() > MAX_PAGE_BYTES {
            break;
        }
        bytes += r.len();
        rows.push(r);
        if bytes >= PAGE_BYTES {
            break;
        }
    }
    let next = (rows.len() < rest.len()).then(|| rest[rows.len() - 1].id.clone());
    Ok(ConsoleReply::ExportPage {
        rows: json_array(&rows),
        next,
    })
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
