//! `lifeline sessions` and `lifeline audit` a page at a time: a month of
//! chatty sessions (each log up to 4 MiB) or a year of audit entries does
//! not fit in the 8 MiB a message carries, and in one answer was refused.
//! Each page is about [`PAGE_BYTES`] of what it lists, in the listing's
//! order, and names where the next one starts (keyset paging: a page is
//! the same whatever was added since the first).

use crate::{
    console_conn::{Person, internal, may_audit, resolve_machine, visible_machines},
    console_export::{MAX_PAGE_BYTES, PAGE_BYTES},
    server::Ctx,
};
use lifeline_proto::{ConsoleReply, Failure, SessionCursor};
use serde::Serialize;
use std::collections::HashSet;

/// Most rows one page looks at, shown or not (rows of machines a
/// technician does not see are skipped): a page may come back empty, with
/// the place to go on from, rather than scan a whole table.
pub const MAX_SCANNED: usize = 5_000;

/// A page being filled, row by row in the listing's order.
#[derive(Debug)]
pub struct Pager<T, K> {
    items: Vec<T>,
    bytes: usize,
    scanned: usize,
    last: Option<K>,
    more: bool,
    page_bytes: usize,
    max_bytes: usize,
}

impl<T: Serialize, K> Pager<T, K> {
    /// A page that ends once it holds `page_bytes` (encoded), and never
    /// outgrows `max_bytes` unless a single item does.
    pub fn new(page_bytes: usize, max_bytes: usize) -> Self {
        Self {
            items: Vec::new(),
            bytes: 0,
            scanned: 0,
            last: None,
            more: false,
            page_bytes,
            max_bytes,
        }
    }

    /// Offers the next row, at `key`: `item` to show, `None` to skip it.
    /// Answers whether to go on; a row refused goes first on the next page.
    pub fn offer(&mut self, key: K, item: Option<T>) -> bool {
        if self.bytes >= self.page_bytes || self.scanned >= MAX_SCANNED {
            self.more = true;
            return false;
        }
        if let Some(item) = item {
            let size = lifeline_proto::encoded_len(&item);
            if !self.items.is_empty() && self.bytes + size > self.max_bytes {
                self.more = true;
                return false;
            }
            self.bytes += size;
            self.items.push(item);
        }
        self.scanned += 1;
        self.last = Some(key);
        true
    }

    /// The items, and the key of the last row covered when more follow.
    pub fn finish(self) -> (Vec<T>, Option<K>) {
        let next = if self.more { self.last } else { None };
        (self.items, next)
    }
}

/// The session logs after `after` (newest first) of the machines `person`
/// sees, or of one machine.
pub(crate) async fn sessions(
    ctx: &Ctx,
    person: &Person,
    machine: Option<String>,
    since_unix: u64,
    after: Option<SessionCursor>,
) -> Result<ConsoleReply, Failure> {
    let id = match machine {
        Some(m) => Some(resolve_machine(ctx, person, &m).await?.0),
        None => None,
    };
    let visible: HashSet<String> = visible_machines(ctx, person)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    let (logs, next) = ctx
        .store
        .call(move |s| {
            let mut page = Pager::new(PAGE_BYTES, MAX_PAGE_BYTES);
            s.session_scan(
                id.as_deref(),
                since_unix,
                after,
                &|machine| visible.contains(machine),
                &mut |at, log| page.offer(at, log),
            )?;
            Ok::<_, crate::store::StoreError>(page.finish())
        })
        .await
        .map_err(internal)?;
    Ok(ConsoleReply::SessionsPage { logs, next })
}

/// The audit entries after sequence number `after`, oldest first.
pub(crate) async fn audit(
    ctx: &Ctx,
    person: &Person,
    since_unix: u64,
    actor: Option<String>,
    after: Option<u64>,
) -> Result<ConsoleReply, Failure> {
    may_audit(person)?;
    let (rows, next) = ctx
        .store
        .call(move |s| {
            let mut page = Pager::new(PAGE_BYTES, MAX_PAGE_BYTES);
            s.audit_scan(since_unix, actor.as_deref(), after, &mut |e| {
                page.offer(e.seq, Some(e))
            })?;
            Ok::<_, crate::store::StoreError>(page.finish())
        })
        .await
        .map_err(internal)?;
    Ok(ConsoleReply::AuditPage { rows, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(n: usize) -> String {
        "x".repeat(n)
    }

    #[test]
    fn a_page_ends_once_full_and_the_next_starts_where_it_ended() {
        // A 100-byte string encodes to 101 bytes (a one-byte length).
        let mut p = Pager::new(300, 1_000);
        let mut offered = 0;
        for k in 0..10u32 {
            offered += 1;
            if !p.offer(k, Some(row(100))) {
                break;
            }
        }
        // Three rows make 303 bytes: the fourth is refused and goes next.
        assert_eq!(offered, 4);
        let (items, next) = p.finish();
        assert_eq!(items.len(), 3);
        assert_eq!(next, Some(2));
    }

    #[test]
    fn a_page_never_outgrows_its_limit_but_a_large_row_goes_alone() {
        let mut p = Pager::new(300, 400);
        assert!(p.offer(0u32, Some(row(200))));
        // 201 + 301 > 400: the large row waits for the next page.
        assert!(!p.offer(1, Some(row(300))));
        assert_eq!(p.finish(), (vec![row(200)], Some(0)));
        // Alone on a page, it goes whatever its size.
        let mut p = Pager::new(300, 400);
        assert!(p.offer(1u32, Some(row(900))));
        assert!(!p.offer(2, Some(row(1))));
        assert_eq!(p.finish(), (vec![row(900)], Some(1)));
    }

    #[test]
    fn the_last_page_names_no_next() {
        let mut p = Pager::new(300, 400);
        assert!(p.offer(0u32, Some(row(10))));
        assert!(p.offer(1, None));
        assert_eq!(p.finish(), (vec![row(10)], None));
        let p: Pager<String, u32> = Pager::new(300, 400);
        assert_eq!(p.finish(), (vec![], None));
    }

    #[test]
    fn skipped_rows_count_so_a_page_of_none_still_moves_on() {
        let mut p: Pager<String, usize> = Pager::new(300, 400);
        let mut k = 0;
        while p.offer(k, None) {
            k += 1;
        }
        assert_eq!(k, MAX_SCANNED);
        assert_eq!(p.finish(), (vec![], Some(MAX_SCANNED - 1)));
    }
}
