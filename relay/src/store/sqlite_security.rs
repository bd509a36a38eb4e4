//! SQLite implementation of [`SecurityStore`].

use super::{SecurityStore, SqliteStore, StoreError};
use rusqlite::{OptionalExtension, params};

impl SecurityStore for SqliteStore {
    fn set_totp(&mut self, user: &str, secret: Option<&[u8]>) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE users SET totp_secret = ?2, totp_last_step = 0 WHERE name = ?1",
            params![user, secret],
        )?;
        Ok(n == 1)
    }

    fn totp(&mut self, user_id: i64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        let row: Option<(Option<Vec<u8>>, i64)> = self
            .conn
            .query_row(
                "SELECT totp_secret, totp_last_step FROM users WHERE id = ?1",
                [user_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row.and_then(|(secret, last)| secret.map(|s| (s, last as u64))))
    }

    fn use_totp_step(&mut self, user_id: i64, step: u64) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE users SET totp_last_step = ?2 WHERE id = ?1 AND totp_last_step < ?2",
            params![user_id, step as i64],
        )?;
        Ok(n == 1)
    }

    fn revoke_machine(&mut self, id: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute("UPDATE machines SET revoked = 1 WHERE id = ?1", [id])?;
        Ok(n == 1)
    }

    fn revoke_enroll_token(&mut self, hash: &[u8; 32]) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE enroll_tokens SET revoked = 1 WHERE hash = ?1",
            [&hash[..]],
        )?;
        Ok(n == 1)
    }

    fn set_user_disabled(&mut self, name: &str, disabled: bool) -> Result<bool, StoreError> {
        let n = self.conn.execute(
            "UPDATE users SET disabled = ?2 WHERE name = ?1",
            params![name, disabled],
        )?;
        Ok(n == 1)
    }

    fn set_tech_cert(
        &mut self,
        cert: &lifeline_proto::orgcert::TechCert,
    ) -> Result<bool, StoreError> {
        let json = serde_json::to_string(cert).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let n = self.conn.execute(
            "INSERT INTO tech_certs (user, cert) SELECT name, ?2 FROM users WHERE name = ?1
             ON CONFLICT (user) DO UPDATE SET cert = excluded.cert",
            params![cert.user, json],
        )?;
        Ok(n == 1)
    }

    fn tech_cert(
        &mut self,
        user: &str,
    ) -> Result<Option<lifeline_proto::orgcert::TechCert>, StoreError> {
        let json: Option<String> = self
            .conn
            .query_row("SELECT cert FROM tech_certs WHERE user = ?1", [user], |r| {
                r.get(0)
            })
            .optional()?;
        json.map(|j| serde_json::from_str(&j).map_err(|e| StoreError::Corrupt(e.to_string())))
            .transpose()
    }

    fn set_machine_key(&mut self, id: &str, key: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE machines SET e2e_key = ?2 WHERE id = ?1",
            params![id, key],
        )?;
        Ok(())
    }

    fn machine_key(&mut self, id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key: Option<Option<Vec<u8>>> = self
            .conn
            .query_row("SELECT e2e_key FROM machines WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        Ok(key.flatten())
    }

    fn set_token_key(&mut self, token_hash: &[u8; 32], key: &[u8]) -> Result<(), StoreError> {
        self.conn.execute(
            "UPDATE auth_tokens SET e2e_key = ?2 WHERE hash = ?1",
            params![&token_hash[..], key],
        )?;
        Ok(())
    }

    fn token_key(&mut self, token_hash: &[u8; 32]) -> Result<Option<Vec<u8>>, StoreError> {
        let key: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT e2e_key FROM auth_tokens WHERE hash = ?1",
                [&token_hash[..]],
                |r| r.get(0),
            )
            .optional()?;
        Ok(key.flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;
    use lifeline_proto::Role;

    #[test]
    fn totp_secret_is_kept_and_a_step_is_used_once() {
        let mut s = SqliteStore::open_in_memory().unwrap();
        let id = s.add_user("bob", Role::Technician, "x", 1).unwrap();
        assert_eq!(s.totp(id).unwrap(), None);
        assert!(!s.set_totp("nobody", Some(b"k")).unwrap());
        assert!(s.set_totp("bob", Some(b"secret")).unwrap());
        assert_eq!(s.totp(id).unwrap(), Some((b"secret".to_vec(), 0)));
        assert!(s.use_totp_step(id, 100).unwrap());
        assert!(!s.use_totp_step(id, 100).unwrap(), "a replay is refused");
        assert!(!s.use_totp_step(id, 99).unwrap(), "an older step too");
        assert_eq!(s.totp(id).unwrap(), Some((b"secret".to_vec(), 100)));
        assert!(s.set_totp("bob", None).unwrap());
        assert_eq!(s.totp(id).unwrap(), None);
    }

    #[test]
    fn writes_kept_whole_are_all_kept_or_all_undone() {
        use crate::store::{TicketStore, atomically};
        let store = SqliteStore::open_in_memory().unwrap();
        let mut s = crate::store::store_with_machines(store, &["m1"]);
        let req = lifeline_proto::ticket::HelpRequest {
            requester: "ann".into(),
            text: "printer".into(),
            priority: "normal".into(),
            screenshot_png: vec![1, 2, 3],
        };
        // A failure after the ticket (itself written whole, nested) and the
        // first attachment: none of it stays, the machine's key neither.
        let failed = atomically(&mut s, |s| {
            let t = s.create_ticket("m1", &req, 5)?;
            s.attach(t, "screenshot", "screenshot.png", &req.screenshot_png, 5)?;
            s.set_machine_key("m1", &[4; 32])?;
            Err::<u64, _>(StoreError::Corrupt("disk full".into()))
        });
        assert!(failed.is_err());
        assert!(s.ticket(1).unwrap().is_none());
        assert_eq!(s.machine_key("m1").unwrap(), None);
        // Whole, all of it is kept.
        let t = atomically(&mut s, |s| {
            let t = s.create_ticket("m1", &req, 6)?;
            s.attach(t, "screenshot", "screenshot.png", &req.screenshot_png, 6)?;
            Ok(t)
        })
        .unwrap();
        let detail = s.ticket(t).unwrap().unwrap();
        assert_eq!(detail.description, "printer");
        assert_eq!(
            detail.attachments,
            [("screenshot".into(), "screenshot.png".into(), 3)]
        );
        // And a store method on its own still keeps its writes.
        s.set_machine_key("m1", &[5; 32]).unwrap();
        assert!(s.create_ticket("m1", &req, 7).is_ok());
        assert_eq!(s.machine_key("m1").unwrap(), Some(vec![5; 32]));
    }
}
