//! Server-side subscriptions are owned and bounded (issue 17, row 9): each
//! `POST /api/subscriptions` makes its user an owner; a user may own
//! `API_MAX_SERVER_SUBSCRIPTIONS_PER_USER` and all users together
//! `API_MAX_SERVER_SUBSCRIPTIONS` (`429` with `bad_request` beyond); only an
//! owner, or an administrator (a user the ACL lets publish to
//! `$admin/subscriptions`), removes one (`403` otherwise); a user's end with
//! the user. The app runs in-process against a real Mosquitto, with a
//! password file made by `mosquitto_passwd` and a Mosquitto ACL file.

use serde_json::{json, Value};
use test_support::*;

const ACL: &str = "\
topic read plant/#

user admin
topic write $admin/subscriptions
";

const USERS: [(&str, &str); 4] = [
    ("alice", "alice-pass"),
    ("bob", "bob-pass"),
    ("carol", "carol-pass"),
    ("admin", "admin-pass"),
];

/// The app behind the password file and the ACL, with the limits set.
struct Setup {
    guarded: GuardedApp,
}

impl Setup {
    /// Two subscriptions per user, three in all.
    async fn start() -> Setup {
        let guarded = GuardedApp::start_with(&USERS, Some(ACL), |s| {
            s.max_server_subscriptions_per_user = 2;
            s.max_server_subscriptions = 3;
        })
        .await;
        Setup { guarded }
    }

    fn user(&self, name: &str) -> WebClient {
        let (_, password) = USERS
            .iter()
            .find(|(user, _)| *user == name)
            .expect("a known user");
        self.guarded.user(name, password)
    }

    async fn add(&self, user: &str, filter: &str) -> Answer {
        let body = json!({"topic": filter});
        self.user(user).post_json("/api/subscriptions", body).await
    }

    async fn remove(&self, user: &str, filter: &str) -> Answer {
        let path = format!("/api/subscriptions?topic={}", filter.replace('#', "%23"));
        self.user(user).delete(&path).await
    }

    /// The server's own subscriptions, each with its owners.
    async fn held(&self) -> Vec<(String, Value)> {
        let rows = self.user("admin").get("/api/subscriptions").await.json();
        let mut held: Vec<(String, Value)> = rows
            .as_array()
            .expect("a list")
            .iter()
            .filter(|row| row["server"] == true)
            .map(|row| {
                (
                    row["topic"].as_str().unwrap_or_default().to_string(),
                    row["owners"].clone(),
                )
            })
            .collect();
        held.sort_by(|a, b| a.0.cmp(&b.0));
        held
    }
}

fn assert_status(answer: &Answer, status: u16, code: &str) {
    assert_eq!(
        (answer.status, answer.code().as_str()),
        (status, code),
        "{}",
        answer.text()
    );
}

#[actix_rt::test]
async fn each_user_and_all_users_together_own_a_bounded_number() {
    let setup = Setup::start().await;
    assert_eq!(setup.add("alice", "plant/a").await.status, 200);
    assert_eq!(setup.add("alice", "plant/b").await.status, 200);
    // Asking again for one it owns is no new one.
    assert_eq!(setup.add("alice", "plant/a").await.status, 200);
    let over = setup.add("alice", "plant/c").await;
    assert_status(&over, 429, "bad_request");
    assert!(
        over.text()
            .contains("API_MAX_SERVER_SUBSCRIPTIONS_PER_USER"),
        "{}",
        over.text()
    );

    assert_eq!(setup.add("bob", "plant/a").await.status, 200);
    let over = setup.add("carol", "plant/x").await;
    assert_status(&over, 429, "bad_request");
    assert!(
        over.text().contains("API_MAX_SERVER_SUBSCRIPTIONS)"),
        "{}",
        over.text()
    );
    // A refused one holds nothing.
    let held: Vec<String> = setup.held().await.into_iter().map(|(f, _)| f).collect();
    assert_eq!(held, ["plant/a", "plant/b"]);

    // Room again once one is removed.
    assert_eq!(setup.remove("alice", "plant/b").await.status, 200);
    assert_eq!(setup.add("carol", "plant/x").await.status, 200);
}

#[actix_rt::test]
async fn only_an_owner_or_an_administrator_removes_one() {
    let setup = Setup::start().await;
    assert_eq!(setup.add("alice", "plant/a").await.status, 200);
    assert_eq!(setup.add("bob", "plant/a").await.status, 200);
    assert_eq!(setup.add("bob", "plant/b").await.status, 200);
    assert_eq!(
        setup.held().await,
        [
            ("plant/a".to_string(), json!(["alice", "bob"])),
            ("plant/b".to_string(), json!(["bob"])),
        ]
    );

    assert_status(&setup.remove("carol", "plant/a").await, 403, "forbidden");
    assert_status(&setup.remove("alice", "plant/b").await, 403, "forbidden");
    assert_status(&setup.remove("carol", "plant/none").await, 404, "not_found");
    // Alice lets go; Bob still owns it, so the server still holds it.
    assert_eq!(setup.remove("alice", "plant/a").await.status, 200);
    assert_eq!(
        setup.held().await[0],
        ("plant/a".to_string(), json!(["bob"]))
    );
    // The administrator removes Bob's.
    assert_eq!(setup.remove("admin", "plant/a").await.status, 200);
    assert_eq!(setup.remove("admin", "plant/b").await.status, 200);
    assert!(setup.held().await.is_empty());
}

#[actix_rt::test]
async fn a_users_subscriptions_end_with_the_user() {
    let setup = Setup::start().await;
    assert_eq!(setup.add("alice", "plant/a").await.status, 200);
    assert_eq!(setup.add("alice", "plant/shared").await.status, 200);
    assert_eq!(setup.add("bob", "plant/shared").await.status, 200);

    setup.guarded.passwd.remove("alice");
    setup.guarded.reload();
    eventually("alice's subscriptions end", || async {
        let held = setup.held().await;
        (held == [("plant/shared".to_string(), json!(["bob"]))]).then_some(())
    })
    .await;
    // Her place is free again: the limits count owners still there.
    assert_eq!(setup.add("carol", "plant/c").await.status, 200);
    assert_eq!(setup.add("carol", "plant/d").await.status, 200);
}
