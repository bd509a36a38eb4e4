//! The SQLite schema: versioned migrations and the code that applies them.

use super::StoreError;
use rusqlite::Connection;

/// Schema migrations, applied in order; `PRAGMA user_version` records how
/// many ran. Append only: never edit a migration that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: people, login tokens, enrollment tokens, machines.
    r"
    CREATE TABLE users (
        id            INTEGER PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE COLLATE NOCASE,
        role          TEXT NOT NULL CHECK (role IN ('admin', 'technician', 'auditor')),
        password_hash TEXT NOT NULL,
        created_unix  INTEGER NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE auth_tokens (
        hash          BLOB PRIMARY KEY,
        user_id       INTEGER NOT NULL REFERENCES users(id),
        created_unix  INTEGER NOT NULL,
        expires_unix  INTEGER NOT NULL,
        revoked       INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE enroll_tokens (
        hash          BLOB PRIMARY KEY,
        grp           TEXT,
        created_by    INTEGER NOT NULL REFERENCES users(id),
        created_unix  INTEGER NOT NULL,
        expires_unix  INTEGER NOT NULL,
        max_uses      INTEGER,
        uses          INTEGER NOT NULL DEFAULT 0,
        revoked       INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE machines (
        id              TEXT PRIMARY KEY,
        hostname        TEXT NOT NULL,
        os              TEXT NOT NULL,
        arch            TEXT NOT NULL,
        agent_version   TEXT NOT NULL,
        grp             TEXT,
        credential_hash BLOB NOT NULL,
        enrolled_unix   INTEGER NOT NULL,
        last_seen_unix  INTEGER,
        revoked         INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX machines_hostname ON machines(hostname COLLATE NOCASE);
    ",
    // 2: inventory (current, history, fleet indexes) and people's groups.
    r"
    CREATE TABLE inventory (
        machine_id   TEXT NOT NULL REFERENCES machines(id),
        category     TEXT NOT NULL,
        hash         TEXT NOT NULL,
        json         BLOB NOT NULL,
        updated_unix INTEGER NOT NULL,
        PRIMARY KEY (machine_id, category)
    );
    CREATE TABLE inventory_history (
        id         INTEGER PRIMARY KEY,
        machine_id TEXT NOT NULL,
        at_unix    INTEGER NOT NULL,
        category   TEXT NOT NULL,
        kind       TEXT NOT NULL,
        key        TEXT NOT NULL,
        old        TEXT,
        new        TEXT
    );
    CREATE INDEX inventory_history_machine ON inventory_history(machine_id, at_unix);
    CREATE TABLE packages (
        machine_id TEXT NOT NULL,
        name       TEXT NOT NULL,
        version    TEXT NOT NULL,
        arch       TEXT,
        source     TEXT NOT NULL
    );
    CREATE INDEX packages_name ON packages(name, machine_id);
    CREATE INDEX packages_machine ON packages(machine_id);
    CREATE TABLE hardware_facts (
        machine_id TEXT NOT NULL,
        key        TEXT NOT NULL,
        value      TEXT NOT NULL
    );
    CREATE INDEX hardware_facts_kv ON hardware_facts(key, value);
    CREATE INDEX hardware_facts_machine ON hardware_facts(machine_id);
    CREATE TABLE user_groups (
        user_id INTEGER NOT NULL REFERENCES users(id),
        grp     TEXT NOT NULL,
        PRIMARY KEY (user_id, grp)
    );
    ",
    // 3: the hash-chained audit log.
    r"
    CREATE TABLE audit (
        seq       INTEGER PRIMARY KEY,
        at_unix   INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        action    TEXT NOT NULL,
        target    TEXT NOT NULL,
        details   TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash      TEXT NOT NULL
    );
    CREATE INDEX audit_time ON audit(at_unix);
    ",
    // 4: machine policy: may sessions start without asking the user?
    r"
    ALTER TABLE machines ADD COLUMN unattended INTEGER NOT NULL DEFAULT 0;
    ",
    // 5: help-desk tickets, their timelines and attachments.
    r"
    CREATE TABLE tickets (
        id              INTEGER PRIMARY KEY,
        machine_id      TEXT NOT NULL REFERENCES machines(id),
        requester       TEXT NOT NULL,
        title           TEXT NOT NULL,
        description     TEXT NOT NULL,
        status          TEXT NOT NULL CHECK (status IN ('new','open','pending','resolved','closed')),
        priority        TEXT NOT NULL CHECK (priority IN ('low','normal','high','urgent')),
        tier            INTEGER NOT NULL CHECK (tier BETWEEN 1 AND 3),
        assignee        TEXT,
        created_unix    INTEGER NOT NULL,
        updated_unix    INTEGER NOT NULL,
        first_response_unix INTEGER,
        resolved_unix   INTEGER
    );
    CREATE INDEX tickets_status ON tickets(status, tier);
    CREATE TABLE ticket_events (
        id        INTEGER PRIMARY KEY,
        ticket_id INTEGER NOT NULL REFERENCES tickets(id),
        at_unix   INTEGER NOT NULL,
        actor     TEXT NOT NULL,
        kind      TEXT NOT NULL,
        text      TEXT NOT NULL
    );
    CREATE INDEX ticket_events_ticket ON ticket_events(ticket_id, id);
    CREATE TABLE attachments (
        id           INTEGER PRIMARY KEY,
        ticket_id    INTEGER NOT NULL REFERENCES tickets(id),
        kind         TEXT NOT NULL,
        name         TEXT NOT NULL,
        data         BLOB NOT NULL,
        created_unix INTEGER NOT NULL
    );
    ",
    // 6: session logs, webhooks and their delivery log.
    r"
    CREATE TABLE sessions (
        id          INTEGER PRIMARY KEY,
        machine_id  TEXT NOT NULL,
        technician  TEXT NOT NULL,
        ticket_id   INTEGER,
        ended_unix  INTEGER NOT NULL,
        log         TEXT NOT NULL
    );
    CREATE INDEX sessions_ticket ON sessions(ticket_id);
    CREATE INDEX sessions_machine ON sessions(machine_id, ended_unix);
    CREATE TABLE webhooks (
        id           INTEGER PRIMARY KEY,
        url          TEXT NOT NULL UNIQUE,
        secret       TEXT NOT NULL,
        created_unix INTEGER NOT NULL,
        disabled     INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE webhook_deliveries (
        id             INTEGER PRIMARY KEY,
        webhook_id     INTEGER NOT NULL REFERENCES webhooks(id),
        event          TEXT NOT NULL,
        body           TEXT NOT NULL,
        created_unix   INTEGER NOT NULL,
        attempts       INTEGER NOT NULL DEFAULT 0,
        next_attempt_unix INTEGER NOT NULL,
        delivered_unix INTEGER,
        last_status    TEXT
    );
    CREATE INDEX webhook_deliveries_pending ON webhook_deliveries(delivered_unix, next_attempt_unix);
    ",
    // 7: a compact package index: one clustered B-tree keyed by name, with
    // machines by a small number instead of their 36-character id (three
    // B-trees per row before: the table and two indexes).
    r"
    ALTER TABLE machines ADD COLUMN num INTEGER;
    UPDATE machines SET num = rowid;
    CREATE UNIQUE INDEX machines_num ON machines(num);
    CREATE TABLE packages_v2 (
        name    TEXT NOT NULL,
        machine INTEGER NOT NULL,
        version TEXT NOT NULL,
        arch    TEXT NOT NULL,
        source  TEXT NOT NULL,
        PRIMARY KEY (name, machine, version, arch, source)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO packages_v2 (name, machine, version, arch, source)
        SELECT p.name, m.num, p.version, COALESCE(p.arch, ''), p.source
        FROM packages p JOIN machines m ON m.id = p.machine_id;
    DROP TABLE packages;
    ALTER TABLE packages_v2 RENAME TO packages;
    ",
    // 8: a second factor for people (TOTP secret, and the last time step
    // used so that a code works once).
    r"
    ALTER TABLE users ADD COLUMN totp_secret BLOB;
    ALTER TABLE users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
    ",
    // 9: end-to-end session keys (public halves): a machine's from its
    // enrollment, a console's from the login its token came from.
    r"
    ALTER TABLE machines ADD COLUMN e2e_key BLOB;
    ALTER TABLE auth_tokens ADD COLUMN e2e_key BLOB;
    ",
    // 10: sessions running now, so that a relay killed mid-session still
    // writes their logs when it comes back.
    r"
    CREATE TABLE open_sessions (
        id INTEGER PRIMARY KEY,
        machine_id TEXT NOT NULL,
        body TEXT NOT NULL
    );
    ",
    // 11: technicians' key approvals, signed by the organisation's key on
    // an admin's machine; the relay only keeps and forwards them.
    r"
    CREATE TABLE tech_certs (
        user TEXT PRIMARY KEY,
        cert TEXT NOT NULL
    );
    ",
    // 12: the session listing of the whole fleet, newest first, a page at
    // a time (the rowid, the session id, orders ties).
    r"
    CREATE INDEX sessions_ended ON sessions(ended_unix);
    ",
    // 13: the ticket queue a page at a time, newest first, by status or by
    // assignee (each index also orders by ticket number), without reading
    // every ticket for each page; a session's ticket looked up among its
    // technician's.
    r"
    CREATE INDEX tickets_by_status ON tickets(status);
    CREATE INDEX tickets_by_assignee ON tickets(assignee);
    ",
    // 14: the machine listing a page at a time, by hostname then id, from
    // where the last page ended; the index also finds a machine by name.
    r"
    DROP INDEX machines_hostname;
    CREATE INDEX machines_by_name ON machines(hostname COLLATE NOCASE, id);
    ",
    // 15: a technician's machines (those of her groups) for her pages of
    // session logs, read from the index alone.
    r"
    CREATE INDEX machines_by_group ON machines(grp, id);
    ",
];

/// Applies the migrations this database has not had yet.
///
/// # Errors
/// Engine errors, or a schema newer than this build knows.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
