//! Help-desk tickets and session logs in the store.

use super::{OpenSession, StoreError};
use lifeline_proto::ticket::TicketRow;

/// Which tickets a listing wants; `None` and 0 ask for any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketQuery {
    /// Assigned to this person.
    pub assignee: Option<String>,
    /// new, open, pending, resolved or closed.
    pub status: Option<String>,
    pub tier: Option<u8>,
    /// Opened at or after this time.
    pub created_since: u64,
    /// About this machine (by id).
    pub machine: Option<String>,
}

/// A ticket change that breaks the rules.
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    #[error("no ticket {0}")]
    NotFound(u64),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Help-desk tickets.
pub trait TicketStore {
    /// Opens a ticket (status new, tier 1) and records its creation.
    fn create_ticket(
        &mut self,
        machine_id: &str,
        request: &lifeline_proto::ticket::HelpRequest,
        now_unix: u64,
    ) -> Result<u64, StoreError>;

    /// Attaches a file to a ticket.
    fn attach(
        &mut self,
        ticket: u64,
        kind: &str,
        name: &str,
        data: &[u8],
        now_unix: u64,
    ) -> Result<(), StoreError>;

    /// Adds a timeline entry.
    fn ticket_event(
        &mut self,
        ticket: u64,
        actor: &str,
        kind: &str,
        text: &str,
        now_unix: u64,
    ) -> Result<(), StoreError>;

    /// Tickets matching `query`, newest first (by number), of machines in
    /// `groups` if given, numbered below `after` if given: each passed to
    /// `take` until it answers `false`.
    fn ticket_scan(
        &mut self,
        query: &TicketQuery,
        groups: Option<&[String]>,
        after: Option<u64>,
        take: &mut dyn FnMut(TicketRow) -> bool,
    ) -> Result<(), StoreError>;

    /// One ticket in full.
    fn ticket(
        &mut self,
        id: u64,
    ) -> Result<Option<lifeline_proto::ticket::TicketDetail>, StoreError>;

    /// Applies a change by `actor`, enforcing the workflow.
    fn update_ticket(
        &mut self,
        id: u64,
        actor: &str,
        change: &lifeline_proto::ticket::TicketChange,
        now_unix: u64,
    ) -> Result<(), TicketError>;

    /// The ticket as it is now with its latest timeline entry: what
    /// watchers and webhooks are told after a change.
    fn ticket_news(
        &mut self,
        id: u64,
    ) -> Result<Option<lifeline_proto::ticket::TicketNews>, StoreError>;

    /// Keeps a session's log (and forgets it as open).
    fn save_session(
        &mut self,
        log: &lifeline_proto::session_log::SessionLog,
    ) -> Result<(), StoreError>;

    /// Remembers a session that started, until its log is saved.
    fn session_opened(&mut self, open: &OpenSession) -> Result<(), StoreError>;

    /// Sessions that started and have no log: after a crash, the ones the
    /// relay was serving when it stopped.
    fn open_sessions(&mut self) -> Result<Vec<OpenSession>, StoreError>;

    /// One session's log.
    fn session(
        &mut self,
        id: u64,
    ) -> Result<Option<lifeline_proto::session_log::SessionLog>, StoreError>;

    /// Session logs ended since a time, newest first, of one machine or
    /// one ticket if given.
    fn sessions(
        &mut self,
        machine_id: Option<&str>,
        ticket: Option<u64>,
        since_unix: u64,
    ) -> Result<Vec<lifeline_proto::session_log::SessionLog>, StoreError>;

    /// Session logs ended since a time, newest first, of machines in
    /// `groups` if given (of one machine if given), after `after` in that
    /// order if given: each passed to `take` with its place in that order
    /// until it answers `false`.
    fn session_scan(
        &mut self,
        machine_id: Option<&str>,
        since_unix: u64,
        groups: Option<&[String]>,
        after: Option<lifeline_proto::SessionCursor>,
        take: &mut dyn FnMut(
            lifeline_proto::SessionCursor,
            lifeline_proto::session_log::SessionLog,
        ) -> bool,
    ) -> Result<(), StoreError>;
}
