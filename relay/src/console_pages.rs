//! `lifeline sessions` and `lifeline audit` a page at a time: a month of
//! chatty sessions (each log up to 4 MiB) or a year of audit entries does
//! not fit in the 8 MiB a message carries, and in one answer was refused.
//! Each page is about [`PAGE_BYTES`] of what it lists, in the listing's
//! order, and names where the next one starts (keyset paging: a page is
//! the same whatever was added since the first). The ticket queue
//! (`console_tickets`) is filled by the same [`Pager`].

use crate::{
    console_conn::{Person, failure, internal, may_audit, resolve_machine},
    console_export::{MAX_PAGE_BYTES, PAGE_BYTES},
    server::Ctx,
};
use lifeline_proto::{ConsoleReply, ErrorCode, Failure, SessionCursor};
use serde::Serialize;

/// A page being filled, row by row in the listing's order.
#[derive(Debug)]
pub struct Pager<T, K> {
    items: Vec<T>,
    bytes: usize,
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
            last: None,
            more: false,
            page_bytes,
            max_bytes,
        }
    }

    /// A page as large as a message: a whole listing in one answer (for
    /// consoles before pages), or more to come.
    pub fn whole() -> Self {
        Self::new(MAX_PAGE_BYTES, MAX_PAGE_BYTES)
    }

    /// Is the page full, with a row known to come after it? Lets a row
    /// costly to make be left unmade: a `true` ends the page as a refused
    /// offer does.
    pub fn full_before_next(&mut self) -> bool {
        if self.bytes >= self.page_bytes {
            self.more = true;
        }
        self.more
    }

    /// Offers the next row, at `key`; answers whether to go on. A row
    /// refused goes first on the next page.
    pub fn offer(&mut self, key: K, item: T) -> bool {
        if self.full_before_next() {
            return false;
        }
        let size = lifeline_proto::encoded_len(&item);
        if !self.items.is_empty() && self.bytes + size > self.max_bytes {
            self.more = true;
            return false;
        }
        self.bytes += size;
        self.items.push(item);
        self.last = Some(key);
        true
    }

    /// The items, and the key of the last row covered when more follow.
    pub fn finish(self) -> (Vec<T>, Option<K>) {
        let next = if self.more { self.last } else { None };
        (self.items, next)
    }
}

/// Refused: a listing in one answer that does not fit in a message (the
/// relay stops reading it there, holding no more than a message). `less`
/// says how to ask for less; consoles of protocol `version` or later list
/// in pages.
pub(crate) fn too_large(less: &str, version: u16) -> Failure {
    failure(
        ErrorCode::BadRequest,
        format!(
            "the answer would take more than the {} MiB a message carries: ask for less \
             ({less}), or use a console of protocol version {version} or later, which lists \
             in pages",
            lifeline_proto::MAX_FRAME_LEN / 1_048_576
        ),
    )
}

/// How to ask for fewer session logs or audit entries.
const LESS_SINCE: &str = "a shorter --since, one --machine";

/// A page of the session logs after `after` (newest first) of the
/// machines `person` sees, or of one machine.
async fn session_page(
    ctx: &Ctx,
    person: &Person,
    machine: Option<String>,
    since_unix: u64,
    after: Option<SessionCursor>,
    mut page: Pager<lifeline_proto::session_log::SessionLog, SessionCursor>,
) -> Result<
    (
        Vec<lifeline_proto::session_log::SessionLog>,
        Option<SessionCursor>,
    ),
    Failure,
> {
    let id = match machine {
        Some(m) => Some(resolve_machine(ctx, person, &m).await?.0),
        None => None,
    };
    let groups = person.limited_to().map(<[String]>::to_vec);
    ctx.store
        .call(move |s| {
            s.session_scan(
                id.as_deref(),
                since_unix,
                groups.as_deref(),
                after,
                &mut |at, log| page.offer(at, log),
            )?;
            Ok::<_, crate::store::StoreError>(page.finish())
        })
        .await
        .map_err(internal)
}

/// The session logs after `after` (newest first) of the machines `person`
/// sees, or of one machine: a page.
pub(crate) async fn sessions(
    ctx: &Ctx,
    person: &Person,
    machine: Option<String>,
    since_unix: u64,
    after: Option<SessionCursor>,
) -> Result<ConsoleReply, Failure> {
    let page = Pager::new(PAGE_BYTES, MAX_PAGE_BYTES);
    let (logs, next) = session_page(ctx, person, machine, since_unix, after, page).await?;
    Ok(ConsoleReply::SessionsPage { logs, next })
}

/// The same in one answer, or refused once past a message.
pub(crate) async fn sessions_whole(
    ctx: &Ctx,
    person: &Person,
    machine: Option<String>,
    since_unix: u64,
) -> Result<ConsoleReply, Failure> {
    match session_page(ctx, person, machine, since_unix, None, Pager::whole()).await? {
        (logs, None) => Ok(ConsoleReply::Sessions(logs)),
        (_, Some(_)) => Err(too_large(LESS_SINCE, lifeline_proto::LISTING_PAGES_VERSION)),
    }
}

/// A page of the audit entries after sequence number `after`, oldest first.
async fn audit_page(
    ctx: &Ctx,
    person: &Person,
    since_unix: u64,
    actor: Option<String>,
    after: Option<u64>,
    mut page: Pager<lifeline_proto::audit::AuditEntry, u64>,
) -> Result<(Vec<lifeline_proto::audit::AuditEntry>, Option<u64>), Failure> {
    may_audit(person)?;
    ctx.store
        .call(move |s| {
            s.audit_scan(since_unix, actor.as_deref(), after, &mut |e| {
                page.offer(e.seq, e)
            })?;
            Ok::<_, crate::store::StoreError>(page.finish())
        })
        .await
        .map_err(internal)
}

/// The audit entries after sequence number `after`, oldest first: a page.
pub(crate) async fn audit(
    ctx: &Ctx,
    person: &Person,
    since_unix: u64,
    actor: Option<String>,
    after: Option<u64>,
) -> Result<ConsoleReply, Failure> {
    let page = Pager::new(PAGE_BYTES, MAX_PAGE_BYTES);
    let (rows, next) = audit_page(ctx, person, since_unix, actor, after, page).await?;
    Ok(ConsoleReply::AuditPage { rows, next })
}

/// The same in one answer, or refused once past a message.
pub(crate) async fn audit_whole(
    ctx: &Ctx,
    person: &Person,
    since_unix: u64,
    actor: Option<String>,
) -> Result<ConsoleReply, Failure> {
    match audit_page(ctx, person, since_unix, actor, None, Pager::whole()).await? {
        (rows, None) => Ok(ConsoleReply::Audit(rows)),
        (_, Some(_)) => Err(too_large(LESS_SINCE, lifeline_proto::LISTING_PAGES_VERSION)),
    }
}

/// Audit entries checked per turn on the store: other store work
/// (presence, uploads, session logs) waits for one turn at most, not for
/// the whole chain of a long log.
const VERIFY_CHUNK: usize = 10_000;

/// Recomputes the audit chain, a turn of [`VERIFY_CHUNK`] entries on the
/// store at a time, in little memory whatever the log's length.
pub(crate) async fn audit_verify(ctx: &Ctx, person: &Person) -> Result<ConsoleReply, Failure> {
    may_audit(person)?;
    let mut check = crate::audit::ChainCheck::default();
    let mut after = None;
    loop {
        let (c, last, done) = ctx
            .store
            .call(move |s| {
                let (mut check, mut last, mut n) = (check, after, 0);
                s.audit_scan(0, None, after, &mut |e| {
                    check.push(&e);
                    last = Some(e.seq);
                    n += 1;
                    n < VERIFY_CHUNK
                })?;
                Ok::<_, crate::store::StoreError>((check, last, n < VERIFY_CHUNK))
            })
            .await
            .map_err(internal)?;
        check = c;
        after = last;
        if done {
            return Ok(ConsoleReply::AuditVerified(check.verdict()));
        }
    }
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
            if !p.offer(k, row(100)) {
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
        assert!(p.offer(0u32, row(200)));
        // 201 + 301 > 400: the large row waits for the next page.
        assert!(!p.offer(1, row(300)));
        assert_eq!(p.finish(), (vec![row(200)], Some(0)));
        // Alone on a page, it goes whatever its size.
        let mut p = Pager::new(300, 400);
        assert!(p.offer(1u32, row(900)));
        assert!(!p.offer(2, row(1)));
        assert_eq!(p.finish(), (vec![row(900)], Some(1)));
    }

    #[test]
    fn a_full_page_is_known_before_its_next_row_is_made() {
        let mut p = Pager::new(300, 400);
        assert!(!p.full_before_next());
        for k in 0..3u32 {
            assert!(p.offer(k, row(100)));
        }
        // 303 bytes: full, and ended as a refused offer ends it.
        assert!(p.full_before_next());
        assert_eq!(p.finish().1, Some(2));
        // Once refused, a page takes nothing more, even a smaller row.
        let mut p = Pager::new(300, 400);
        assert!(p.offer(0u32, row(200)));
        assert!(!p.offer(1, row(300)));
        assert!(!p.offer(2, row(1)));
        assert_eq!(p.finish(), (vec![row(200)], Some(0)));
    }

    #[test]
    fn the_last_page_names_no_next() {
        let mut p = Pager::new(300, 400);
        assert!(p.offer(0u32, row(10)));
        assert!(p.offer(1, row(10)));
        assert_eq!(p.finish(), (vec![row(10), row(10)], None));
        let p: Pager<String, u32> = Pager::new(300, 400);
        assert_eq!(p.finish(), (vec![], None));
    }
}
