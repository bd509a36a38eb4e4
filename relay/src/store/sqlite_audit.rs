//! SQLite implementation of [`AuditStore`].

use super::{AuditStore, SqliteStore, StoreError};
use crate::audit::{GENESIS, NewEntry, entry_hash};
use lifeline_proto::audit::AuditEntry;
use rusqlite::{OptionalExtension, params};

impl AuditStore for SqliteStore {
    fn append_audit(&mut self, e: &NewEntry, now_unix: u64) -> Result<AuditEntry, StoreError> {
        // IMMEDIATE: take the write lock before reading the tail, so two
        // writers (relay and `lifeline-relay user add`) cannot fork the chain.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let last: Option<(i64, String)> = tx
            .query_row(
                "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let (seq, prev_hash) = match last {
            Some((seq, hash)) => (seq as u64 + 1, hash),
            None => (1, GENESIS.to_string()),
        };
        let hash = entry_hash(
            &prev_hash, seq, now_unix, &e.actor, &e.action, &e.target, &e.details,
        );
        tx.execute(
            "INSERT INTO audit (seq, at_unix, actor, action, target, details, prev_hash, hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                seq as i64,
                now_unix as i64,
                e.actor,
                e.action,
                e.target,
                e.details,
                prev_hash,
                hash
            ],
        )?;
        tx.commit()?;
        Ok(AuditEntry {
            seq,
            at_unix: now_unix,
            actor: e.actor.clone(),
            action: e.action.clone(),
            target: e.target.clone(),
            details: e.details.clone(),
            prev_hash,
            hash,
        })
    }

    fn audit_scan(
        &mut self,
        since_unix: u64,
        actor: Option<&str>,
        after_seq: Option<u64>,
        take: &mut dyn FnMut(AuditEntry) -> bool,
    ) -> Result<(), StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT seq, at_unix, actor, action, target, details, prev_hash, hash FROM audit
             WHERE seq > ?3 AND at_unix >= ?1 AND (?2 IS NULL OR actor = ?2) ORDER BY seq",
        )?;
        let after = after_seq.map_or(0, |s| i64::try_from(s).unwrap_or(i64::MAX));
        let mut rows = stmt.query(params![since_unix as i64, actor, after])?;
        while let Some(r) = rows.next()? {
            let entry = AuditEntry {
                seq: r.get::<_, i64>(0)? as u64,
                at_unix: r.get::<_, i64>(1)? as u64,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                details: r.get(5)?,
                prev_hash: r.get(6)?,
                hash: r.get(7)?,
            };
            if !take(entry) {
                break;
            }
        }
        Ok(())
    }
}
