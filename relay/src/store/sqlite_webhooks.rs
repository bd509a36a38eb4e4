//! SQLite implementation of [`WebhookStore`].

use super::{DeliveryRow, PendingDelivery, SqliteStore, StoreError, Webhook, WebhookStore};
use rusqlite::params;

impl WebhookStore for SqliteStore {
    fn add_webhook(&mut self, url: &str, secret: &str, now: u64) -> Result<i64, StoreError> {
        self.conn.execute(
            "INSERT INTO webhooks (url, secret, created_unix) VALUES (?1, ?2, ?3)
             ON CONFLICT (url) DO UPDATE SET secret = ?2, disabled = 0",
            params![url, secret, now as i64],
        )?;
        Ok(self
            .conn
            .query_row("SELECT id FROM webhooks WHERE url = ?1", [url], |r| {
                r.get(0)
            })?)
    }

    fn remove_webhook(&mut self, url: &str) -> Result<bool, StoreError> {
        // Kept (disabled) so the delivery log still names it.
        let n = self.conn.execute(
            "UPDATE webhooks SET disabled = 1 WHERE url = ?1 AND disabled = 0",
            [url],
        )?;
        Ok(n > 0)
    }

    fn webhooks(&mut self) -> Result<Vec<Webhook>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, url, secret FROM webhooks WHERE disabled = 0 ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(Webhook {
                id: r.get(0)?,
                url: r.get(1)?,
                secret: r.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn enqueue_deliveries(
        &mut self,
        event: &str,
        body: &str,
        now: u64,
    ) -> Result<usize, StoreError> {
        Ok(self.conn.execute(
            "INSERT INTO webhook_deliveries (webhook_id, event, body, created_unix, next_attempt_unix)
             SELECT id, ?1, ?2, ?3, ?3 FROM webhooks WHERE disabled = 0",
            params![event, body, now as i64],
        )?)
    }

    fn due_deliveries(
        &mut self,
        now: u64,
        limit: usize,
    ) -> Result<Vec<PendingDelivery>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, w.id, w.url, w.secret, d.event, d.body, d.attempts
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             WHERE d.delivered_unix IS NULL AND d.next_attempt_unix <= ?1 AND w.disabled = 0
             ORDER BY d.id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now as i64, limit as i64], |r| {
            Ok(PendingDelivery {
                id: r.get(0)?,
                webhook: Webhook {
                    id: r.get(1)?,
                    url: r.get(2)?,
                    secret: r.get(3)?,
                },
                event: r.get(4)?,
                body: r.get(5)?,
                attempts: r.get::<_, i64>(6)? as u32,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn delivery_attempted(
        &mut self,
        id: i64,
        status: &str,
        delivered: Option<u64>,
        next: u64,
    ) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?2,
               delivered_unix = ?3, next_attempt_unix = ?4 WHERE id = ?1",
            params![id, status, delivered.map(|d| d as i64), next as i64],
        )?;
        Ok(())
    }

    fn deliveries(&mut self, limit: usize) -> Result<Vec<DeliveryRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT d.id, w.url, d.event, d.created_unix, d.attempts, d.delivered_unix, d.last_status
             FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
             ORDER BY d.id DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(DeliveryRow {
                id: r.get(0)?,
                url: r.get(1)?,
                event: r.get(2)?,
                created_unix: r.get::<_, i64>(3)? as u64,
                attempts: r.get::<_, i64>(4)? as u32,
                delivered_unix: r.get::<_, Option<i64>>(5)?.map(|d| d as u64),
                last_status: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_waits_in_the_outbox_until_delivered() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        s.add_webhook("http://127.0.0.1:9/hook", "k", 100).unwrap();
        assert_eq!(
            s.enqueue_deliveries("ticket.created", "{}", 100).unwrap(),
            1
        );
        let due = s.due_deliveries(100, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].webhook.url, "http://127.0.0.1:9/hook");
        // Failed: not due again until the retry time.
        s.delivery_attempted(due[0].id, "connection refused", None, 130)
            .unwrap();
        assert!(s.due_deliveries(129, 10).unwrap().is_empty());
        let again = s.due_deliveries(130, 10).unwrap();
        assert_eq!(again[0].attempts, 1);
        s.delivery_attempted(again[0].id, "200", Some(131), 131)
            .unwrap();
        assert!(s.due_deliveries(10_000, 10).unwrap().is_empty());
        let log = s.deliveries(10).unwrap();
        assert_eq!(log[0].attempts, 2);
        assert_eq!(log[0].delivered_unix, Some(131));
        assert_eq!(log[0].last_status.as_deref(), Some("200"));
    }

    #[test]
    fn a_removed_webhook_gets_nothing_new() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        s.add_webhook("http://127.0.0.1:9/a", "k", 1).unwrap();
        assert!(s.remove_webhook("http://127.0.0.1:9/a").unwrap());
        assert!(!s.remove_webhook("http://127.0.0.1:9/a").unwrap());
        assert_eq!(s.enqueue_deliveries("ticket.created", "{}", 2).unwrap(), 0);
        assert!(s.webhooks().unwrap().is_empty());
    }
}
