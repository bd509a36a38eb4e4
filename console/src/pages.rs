//! Listings that come a page at a time (the inventory export, session
//! logs, the audit, the ticket queue): one loop walks them all.

use crate::client::Client;
use anyhow::bail;
use lifeline_proto::{ConsoleReply, ConsoleRequest};

/// Walks a listing a page at a time. `ask(after)` is the request for the
/// page after `after` (the first with `None`), or an older relay's request
/// for the whole listing, whose answer is its only page. `open` takes the
/// page and the place the next starts out of an answer (the answer back
/// when it is of another kind). `onward(next, after)` says whether `next`
/// lies beyond `after` in the listing's order: a page that does not move
/// on would never end it. `each` takes every page as it comes.
///
/// # Errors
/// Relay refusals, an answer of another kind, a page that does not move
/// on (`what` names the listing), and `each`'s errors.
pub async fn walk<K: Clone, P>(
    c: &mut Client,
    what: &str,
    mut ask: impl FnMut(Option<K>) -> ConsoleRequest,
    open: impl Fn(ConsoleReply) -> Result<(P, Option<K>), ConsoleReply>,
    onward: impl Fn(&K, &K) -> bool,
    mut each: impl FnMut(P) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut after: Option<K> = None;
    loop {
        let reply = c.request(ask(after.clone())).await?;
        let (page, next) = match open(reply) {
            Ok(opened) => opened,
            Err(other) => bail!("unexpected answer {other:?}"),
        };
        if let (Some(n), Some(a)) = (&next, &after)
            && !onward(n, a)
        {
            bail!("the relay sent the same page of {what} again");
        }
        each(page)?;
        match next {
            Some(n) => after = Some(n),
            None => return Ok(()),
        }
    }
}
