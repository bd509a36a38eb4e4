//! A burst of logins sent at once is limited like logins sent one by one.
//! Before, every attempt passed the lock check before the first of them had
//! failed, so 40 connections sent together got 40 password guesses (and 40
//! Argon2 checks of 19 MiB each at once) where one by one got five.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use lifeline::client::Client;
use lifeline_proto::{Role, Secret};
use lifeline_relay::{auth, store::Store};
use lifeline_tests::stage::Stage;

const BURST: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_passwords_gets_five_guesses_and_one_audit_entry() {
    let mut stage = Stage::start_with(None, |store| {
        let hash = auth::hash_password("bobs-right-password")?;
        store.add_user("bob", Role::Technician, &hash, 0)?;
        Ok(())
    })
    .await
    .unwrap();
    let addr = stage.addr.to_string();
    let fp = stage.fingerprint.clone();
    let tries: Vec<_> = (0..BURST)
        .map(|i| {
            let (addr, fp) = (addr.clone(), fp.clone());
            tokio::spawn(async move {
                let guess = Secret::new(format!("guess-{i}"));
                match Client::login(&addr, &fp, "bob", guess, None).await {
                    Ok(_) => panic!("guess {i} logged in"),
                    Err(e) => e.to_string(),
                }
            })
        })
        .collect();
    let mut checked = 0;
    for t in tries {
        let e = t.await.unwrap();
        if e.contains("invalid user or password") {
            checked += 1;
        } else {
            assert!(
                e.contains("too many logins at once") || e.contains("too many failed logins"),
                "{e}"
            );
        }
    }
    assert!(
        (1..=auth::FREE_FAILURES).contains(&checked),
        "{checked} of {BURST} guesses were checked"
    );
    // Locked now, even with the right password.
    let e = Client::login(&addr, &fp, "bob", Secret::new("bobs-right-password"), None)
        .await
        .err()
        .expect("a locked account logged in")
        .to_string();
    assert!(e.contains("too many failed logins; try again in"), "{e}");

    let rows = stage.audit_of("bob").await.unwrap();
    let count = |action: &str| rows.iter().filter(|r| r.action == action).count();
    assert_eq!(count("login-failed"), checked, "{rows:#?}");
    assert!(count("login-locked") <= 1, "{rows:#?}");

    // A name no account can have is refused at once, neither counted nor
    // audited.
    let long = "b".repeat(1000);
    let e = Client::login(&addr, &fp, &long, Secret::new("x"), None)
        .await
        .err()
        .expect("logged in")
        .to_string();
    assert!(e.contains("user names are at most 64 bytes"), "{e}");
}
