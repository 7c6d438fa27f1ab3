//! The collector on PostgreSQL, as several instances behind a load
//! balancer run it.

mod common;

use std::sync::Arc;

use common::{Launch, Server, registration};
use serde_json::Value;

fn rows(url: &str) -> (i64, i64) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.unwrap();
        tokio::spawn(connection);
        let row = client
            .query_one("SELECT (SELECT count(*) FROM model_registrations), (SELECT count(DISTINCT dedup_key) FROM model_registrations)", &[])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    })
}

fn fresh(test: &str) -> Option<String> {
    let url = common::postgres_url(test)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    Some(runtime.block_on(common::fresh_database(&url)))
}

#[test]
fn two_collectors_on_one_database_store_each_event_once() {
    let Some(url) = fresh("two_collectors_on_one_database_store_each_event_once") else {
        return;
    };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let launch = Launch::default()
        .database(&url)
        .env("TELEMETRY_COLLECTOR_RATE_LIMIT_PER_SECOND", "100000");
    // Started together: the migration runs once, under its lock.
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| Server::start(dir_a.path(), &launch));
        let b = scope.spawn(|| Server::start(dir_b.path(), &launch));
        (a.join().unwrap(), b.join().unwrap())
    });
    let batches: Arc<Vec<Value>> = Arc::new(
        (0..40)
            .map(|batch| {
                Value::Array(
                    (0..25)
                        .map(|n| registration("m/a", &format!("c{batch}-{n}")))
                        .collect(),
                )
            })
            .collect(),
    );
    // Both instances receive every batch at once, as retries through a
    // load balancer would deliver them.
    let accepted: Vec<u64> = std::thread::scope(|scope| {
        [&a, &b]
            .map(|server| {
                let batches = Arc::clone(&batches);
                scope.spawn(move || {
                    batches
                        .iter()
                        .map(|batch| {
                            let answer = server.post("/api/v1/telemetry", batch);
                            assert_eq!(answer.status, 200, "{}", answer.text);
                            answer.body["accepted"].as_u64().unwrap()
                        })
                        .sum()
                })
            })
            .map(|handle| handle.join().unwrap())
            .into()
    });
    assert_eq!(
        accepted,
        [1000, 1000],
        "each instance accepts every event it was sent"
    );
    assert_eq!(rows(&url), (1000, 1000), "each event is stored once");
    let models = b.get("/api/v1/models", &[]).body;
    assert_eq!(models["registrations"], 1000);
    assert_eq!(models["models"][0]["clients"], 1000);
    let health = a.get("/healthz", &[]).body;
    assert_eq!(health["storage"], "postgres");
}

#[test]
fn what_postgres_acknowledged_survives_kill_9() {
    let Some(url) = fresh("what_postgres_acknowledged_survives_kill_9") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &Launch::default().database(&url));
    let mut acknowledged = 0;
    for batch in 0..10 {
        let events: Vec<Value> = (0..20)
            .map(|n| registration("m/a", &format!("c{batch}-{n}")))
            .collect();
        let answer = server.post("/api/v1/telemetry", &Value::Array(events));
        acknowledged += answer.body["accepted"].as_u64().unwrap();
    }
    server.kill();
    assert_eq!(rows(&url).0, i64::try_from(acknowledged).unwrap());
    let deleted = {
        let restarted = Server::start(dir.path(), &Launch::default().database(&url));
        restarted
            .post(
                "/api/v1/deletion",
                &serde_json::json!({"client_id": "c0-0"}),
            )
            .body["deleted"]
            .clone()
    };
    assert_eq!(deleted, 1);
}
