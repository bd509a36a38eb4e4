//! The relay's persistent state behind one trait, one implementation per
//! engine. Every call is synchronous; the async relay reaches the store
//! through [`StoreHandle`], a thread that owns it.

mod handle;
mod migrations;
mod sqlite;
mod sqlite_audit;
mod sqlite_inventory;
mod sqlite_machines;
mod sqlite_security;
pub use sqlite_inventory::pack_json;
mod sqlite_sessions;
mod sqlite_tickets;
mod sqlite_webhooks;
mod tickets;
pub use tickets::{TicketError, TicketQuery, TicketStore};

pub use handle::StoreHandle;
pub use sqlite::SqliteStore;

use lifeline_proto::{MachineInfo, Role};

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database engine failed.
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    /// A unique name is already taken.
    #[error("{0} already exists")]
    Conflict(String),
    /// The database was written by a newer relay.
    #[error("database schema version {found} is newer than this relay understands ({known})")]
    TooNew { found: i64, known: i64 },
    /// The store thread is gone (relay shutting down).
    #[error("store is shut down")]
    Gone,
    /// A group of writes could not be committed (all of them were undone).
    #[error("database: commit failed: {0}")]
    Batch(String),
    /// A stored record cannot be read back.
    #[error("stored data is damaged: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The disk refused a write: full, over a quota or a file-size limit,
    /// or failing. SQLite rolled the transaction back; nothing of it is
    /// stored and what was stored before is intact.
    pub fn is_write_refused(&self) -> bool {
        match self {
            StoreError::Db(rusqlite::Error::SqliteFailure(e, _)) => matches!(
                e.code,
                rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure
            ),
            StoreError::Batch(msg) => {
                msg.contains("database or disk is full") || msg.contains("disk I/O error")
            }
            _ => false,
        }
    }
}

/// A store with an admin and the machines `ids` enrolled, for tests.
#[cfg(test)]
pub(crate) fn store_with_machines(mut store: SqliteStore, ids: &[&str]) -> SqliteStore {
    #![allow(clippy::unwrap_used)]
    let admin = store.add_user("root", Role::Admin, "x", 0).unwrap();
    let token = [7u8; 32];
    store
        .add_enroll_token(&NewEnrollToken {
            hash: token,
            group: None,
            created_by: admin,
            created_unix: 0,
            expires_unix: u64::MAX / 2,
            max_uses: None,
        })
        .unwrap();
    for id in ids {
        store
            .enroll(&token, id, &[0; 32], &MachineInfo::default(), 0)
            .unwrap()
            .unwrap();
    }
    store
}

/// A person who can log in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub password_hash: String,
    pub disabled: bool,
}

/// An enrolled machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineRecord {
    pub id: String,
    pub info: MachineInfo,
    pub group: Option<String>,
    pub credential_hash: [u8; 32],
    pub enrolled_unix: u64,
    pub last_seen_unix: Option<u64>,
    pub revoked: bool,
    /// Sessions may start without asking the user.
    pub unattended: bool,
}

/// Which machines a listing wants; `None` asks for any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MachineQuery {
    /// Of these groups only (machines of no group are left out).
    pub groups: Option<Vec<String>>,
    /// Named this, ignoring ASCII case.
    pub hostname: Option<String>,
    /// Last heard from before this time, or never.
    pub seen_before: Option<u64>,
}

/// A new enrollment token, stored by hash only.
#[derive(Clone, Debug)]
pub struct NewEnrollToken {
    pub hash: [u8; 32],
    pub group: Option<String>,
    pub created_by: i64,
    pub created_unix: u64,
    pub expires_unix: u64,
    pub max_uses: Option<u32>,
}

/// One stored inventory category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCategory {
    pub category: String,
    pub hash: String,
    pub json: Vec<u8>,
    pub updated_unix: u64,
}

/// One package row of the fleet index.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PackageRow {
    pub name: String,
    pub version: String,
    pub arch: Option<String>,
    pub source: String,
}

/// Rows leaving and entering a machine's package index.
#[derive(Clone, Copy, Debug)]
pub struct PackageDelta<'a> {
    pub removed: &'a [PackageRow],
    pub added: &'a [PackageRow],
}

/// A new category version with everything derived from it, written in one
/// transaction.
#[derive(Clone, Debug)]
pub struct CategoryUpdate<'a> {
    pub machine_id: &'a str,
    pub category: &'a str,
    pub hash: &'a str,
    pub json: &'a [u8],
    pub now_unix: u64,
    pub changes: &'a [lifeline_proto::inventory::HistoryRow],
    /// Changes to the machine's package index (software only).
    pub packages: Option<PackageDelta<'a>>,
    /// Replaces the machine's hardware facts (hardware only).
    pub facts: Option<&'a [(String, String)]>,
}

/// Inventory storage: current state, history, fleet indexes.
pub trait InventoryStore {
    /// Stored category hashes of a machine.
    fn inventory_hashes(&mut self, machine_id: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Writes a new version of one category.
    fn store_category(&mut self, update: &CategoryUpdate<'_>) -> Result<(), StoreError>;

    /// A machine's stored categories.
    fn inventory(&mut self, machine_id: &str) -> Result<Vec<StoredCategory>, StoreError>;

    /// A machine's changes since `since_unix`, oldest first.
    fn inventory_history(
        &mut self,
        machine_id: &str,
        since_unix: u64,
    ) -> Result<Vec<lifeline_proto::inventory::HistoryRow>, StoreError>;

    /// `(machine_id, version, source)` of every machine with package `name`.
    fn find_package(&mut self, name: &str) -> Result<Vec<(String, String, String)>, StoreError>;

    /// `(machine_id, value)` of every machine whose hardware fact `key`
    /// equals `value` (both compared lower-case).
    fn find_hardware(
        &mut self,
        key: &str,
        value: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// Groups a person may see (empty: unrestricted).
    fn user_groups(&mut self, user_id: i64) -> Result<Vec<String>, StoreError>;

    /// Sets a person's groups.
    fn set_user_groups(&mut self, user_id: i64, groups: &[String]) -> Result<(), StoreError>;
}

/// The hash-chained audit log.
pub trait AuditStore {
    /// Appends an entry, chaining it to the last one.
    fn append_audit(
        &mut self,
        entry: &crate::audit::NewEntry,
        now_unix: u64,
    ) -> Result<lifeline_proto::audit::AuditEntry, StoreError>;

    /// Entries at or after `since_unix`, optionally of one actor, oldest
    /// first, after sequence number `after_seq` if given: each passed to
    /// `take` until it answers `false`.
    fn audit_scan(
        &mut self,
        since_unix: u64,
        actor: Option<&str>,
        after_seq: Option<u64>,
        take: &mut dyn FnMut(lifeline_proto::audit::AuditEntry) -> bool,
    ) -> Result<(), StoreError>;

    /// Entries at or after `since_unix`, optionally of one actor, oldest first.
    fn audit_entries(
        &mut self,
        since_unix: u64,
        actor: Option<&str>,
    ) -> Result<Vec<lifeline_proto::audit::AuditEntry>, StoreError> {
        let mut all = Vec::new();
        self.audit_scan(since_unix, actor, None, &mut |e| {
            all.push(e);
            true
        })?;
        Ok(all)
    }
}

/// What the relay knows of a session when it starts: enough to write its
/// log if the relay dies before the session ends.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OpenSession {
    pub session: u64,
    pub machine_id: String,
    pub offer: lifeline_proto::SessionOffer,
    pub offered_unix: u64,
    pub started_unix: u64,
    pub permission_asked: lifeline_proto::Permission,
    pub decision: Option<String>,
}

/// A webhook subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub url: String,
    pub secret: String,
}

/// A delivery waiting for (another) attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingDelivery {
    pub id: i64,
    pub webhook: Webhook,
    pub event: String,
    pub body: String,
    pub attempts: u32,
}

/// A delivery as the log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryRow {
    pub id: i64,
    pub url: String,
    pub event: String,
    pub created_unix: u64,
    pub attempts: u32,
    pub delivered_unix: Option<u64>,
    pub last_status: Option<String>,
}

/// Outgoing webhooks and their delivery log (an outbox: an event is
/// stored before any attempt, so none is lost while a receiver is down).
pub trait WebhookStore {
    /// Subscribes a URL; returns its id.
    fn add_webhook(&mut self, url: &str, secret: &str, now_unix: u64) -> Result<i64, StoreError>;

    /// Unsubscribes a URL; false when it was not subscribed.
    fn remove_webhook(&mut self, url: &str) -> Result<bool, StoreError>;

    /// The active subscriptions.
    fn webhooks(&mut self) -> Result<Vec<Webhook>, StoreError>;

    /// Queues one delivery of `body` to every active webhook.
    fn enqueue_deliveries(
        &mut self,
        event: &str,
        body: &str,
        now_unix: u64,
    ) -> Result<usize, StoreError>;

    /// Deliveries due at `now_unix`, oldest first.
    fn due_deliveries(
        &mut self,
        now_unix: u64,
        limit: usize,
    ) -> Result<Vec<PendingDelivery>, StoreError>;

    /// Records an attempt: delivered, or the next try's time.
    fn delivery_attempted(
        &mut self,
        id: i64,
        status: &str,
        delivered_unix: Option<u64>,
        next_attempt_unix: u64,
    ) -> Result<(), StoreError>;

    /// The newest deliveries.
    fn deliveries(&mut self, limit: usize) -> Result<Vec<DeliveryRow>, StoreError>;
}

/// Everything the relay persists. One implementation per engine.
/// Second factors and revocation.
pub trait SecurityStore {
    /// Sets (`Some`) or clears a user's TOTP secret; false if no such user.
    fn set_totp(&mut self, user: &str, secret: Option<&[u8]>) -> Result<bool, StoreError>;

    /// A user's TOTP secret and the last time step used, if the user has one.
    fn totp(&mut self, user_id: i64) -> Result<Option<(Vec<u8>, u64)>, StoreError>;

    /// Records that the code of `step` was used. False if a later or equal
    /// step was already used (a replay, or a race between two logins).
    fn use_totp_step(&mut self, user_id: i64, step: u64) -> Result<bool, StoreError>;

    /// Marks a machine revoked; false if no such machine.
    fn revoke_machine(&mut self, id: &str) -> Result<bool, StoreError>;

    /// Revokes an enrollment token; false if no such token.
    fn revoke_enroll_token(&mut self, hash: &[u8; 32]) -> Result<bool, StoreError>;

    /// Disables (`true`) or enables a person; a disabled person's tokens
    /// and password stop working. False if no such user.
    fn set_user_disabled(&mut self, name: &str, disabled: bool) -> Result<bool, StoreError>;

    /// Records the public end-to-end key a machine enrolled with.
    fn set_machine_key(&mut self, id: &str, key: &[u8]) -> Result<(), StoreError>;

    /// A machine's public end-to-end key.
    fn machine_key(&mut self, id: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Binds a console's public end-to-end key to its login token.
    fn set_token_key(&mut self, token_hash: &[u8; 32], key: &[u8]) -> Result<(), StoreError>;

    /// The public end-to-end key bound to a login token.
    fn token_key(&mut self, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError>;

    /// Keeps a technician's key approval (replacing an older one); false if
    /// no such user.
    fn set_tech_cert(
        &mut self,
        cert: &lifeline_proto::orgcert::TechCert,
    ) -> Result<bool, StoreError>;

    /// A technician's key approval, if an admin gave one.
    fn tech_cert(
        &mut self,
        user: &str,
    ) -> Result<Option<lifeline_proto::orgcert::TechCert>, StoreError>;
}

/// Runs `f` on `store` so that its writes are kept all or none: a failure
/// halfway (a full disk, a broken constraint) leaves nothing of it behind,
/// where separate writes left, say, an enrolled machine without its key or
/// a ticket without the screenshot the user sent. Store methods that keep
/// their own writes whole do so inside it too.
///
/// # Errors
/// What `f` returns, or the engine refusing to keep the writes.
pub fn atomically<R>(
    store: &mut dyn Store,
    f: impl FnOnce(&mut dyn Store) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    store.begin_whole()?;
    match f(store) {
        Ok(r) => {
            store.end_whole(true)?;
            Ok(r)
        }
        Err(e) => {
            let _ = store.end_whole(false);
            Err(e)
        }
    }
}

pub trait Store:
    InventoryStore + AuditStore + TicketStore + WebhookStore + SecurityStore + Send
{
    /// Copies committed pages from the write-ahead log into the database,
    /// so the writer's own automatic checkpoints rarely have work left.
    ///
    /// # Errors
    /// The engine refuses.
    fn checkpoint(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Starts a transaction that the following writes share (group
    /// commit); they must use savepoints.
    ///
    /// # Errors
    /// The engine refuses.
    fn begin_batch(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Commits what [`Store::begin_batch`] started; on failure everything
    /// in it is rolled back.
    ///
    /// # Errors
    /// The commit failed.
    fn end_batch(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Starts a unit of writes kept whole: see [`atomically`].
    ///
    /// # Errors
    /// The engine refuses.
    fn begin_whole(&mut self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Keeps the writes since [`Store::begin_whole`] (`keep`) or undoes
    /// them.
    ///
    /// # Errors
    /// The engine refuses.
    fn end_whole(&mut self, keep: bool) -> Result<(), StoreError> {
        let _ = keep;
        Ok(())
    }

    /// Adds a person.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] if the name is taken (case-insensitive).
    fn add_user(
        &mut self,
        name: &str,
        role: Role,
        password_hash: &str,
        now_unix: u64,
    ) -> Result<i64, StoreError>;

    /// Looks a person up by name (case-insensitive).
    fn user_by_name(&mut self, name: &str) -> Result<Option<UserRecord>, StoreError>;

    /// Every person, by name.
    fn list_users(&mut self) -> Result<Vec<UserRecord>, StoreError>;

    /// Remembers a login session token by hash.
    fn insert_auth_token(
        &mut self,
        hash: &[u8; 32],
        user_id: i64,
        now_unix: u64,
        expires_unix: u64,
    ) -> Result<(), StoreError>;

    /// The person behind a valid, unexpired, unrevoked token.
    fn user_by_token(
        &mut self,
        hash: &[u8; 32],
        now_unix: u64,
    ) -> Result<Option<(UserRecord, u64)>, StoreError>;

    /// Revokes a login token.
    fn revoke_auth_token(&mut self, hash: &[u8; 32]) -> Result<(), StoreError>;

    /// Stores a new enrollment token.
    fn add_enroll_token(&mut self, token: &NewEnrollToken) -> Result<(), StoreError>;

    /// Is this enrollment token usable right now? Does not consume it.
    fn enroll_token_valid(&mut self, hash: &[u8; 32], now_unix: u64) -> Result<bool, StoreError>;

    /// Atomically consumes one use of the token and records the machine.
    /// Returns `None`, storing nothing, if the token is not usable.
    fn enroll(
        &mut self,
        token_hash: &[u8; 32],
        machine_id: &str,
        credential_hash: &[u8; 32],
        info: &MachineInfo,
        now_unix: u64,
    ) -> Result<Option<MachineRecord>, StoreError>;

    /// One machine by id.
    fn machine(&mut self, id: &str) -> Result<Option<MachineRecord>, StoreError>;

    /// Machines matching `query`, by hostname (ignoring ASCII case) then
    /// id, past `after` if given: each passed to `take` until it answers
    /// `false`.
    fn machine_scan(
        &mut self,
        query: &MachineQuery,
        after: Option<&lifeline_proto::MachineCursor>,
        take: &mut dyn FnMut(MachineRecord) -> bool,
    ) -> Result<(), StoreError>;

    /// Machines matching `query`, by id, with ids above `after` if given:
    /// each passed to `take` until it answers `false`.
    fn machine_scan_by_id(
        &mut self,
        query: &MachineQuery,
        after: Option<&str>,
        take: &mut dyn FnMut(MachineRecord) -> bool,
    ) -> Result<(), StoreError>;

    /// How many machines match `query`.
    fn machine_count(&mut self, query: &MachineQuery) -> Result<usize, StoreError>;

    /// Every machine matching `query`, by hostname then id.
    fn machines(&mut self, query: &MachineQuery) -> Result<Vec<MachineRecord>, StoreError> {
        let mut all = Vec::new();
        self.machine_scan(query, None, &mut |m| {
            all.push(m);
            true
        })?;
        Ok(all)
    }

    /// Records what the agent reported about its machine on connect.
    fn update_machine_info(
        &mut self,
        id: &str,
        info: &MachineInfo,
        now_unix: u64,
    ) -> Result<(), StoreError>;

    /// Sets whether sessions need the user's consent.
    fn set_unattended(&mut self, id: &str, unattended: bool) -> Result<(), StoreError>;

    /// Records when an agent was last heard from.
    fn set_last_seen(&mut self, id: &str, unix: u64) -> Result<(), StoreError>;
}
