//! Retention, on a clock the test moves: the collector in process, served
//! on loopback.

mod common;

use std::sync::Arc;

use common::registration;
use serde_json::json;
use telemetry_collector::blobs::Blobs;
use telemetry_collector::clock::ManualClock;
use telemetry_collector::{App, Config, Sqlite, Storage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_older_than_retention_days_are_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(time::macros::datetime!(2026-01-01 00:00 UTC));
    let config = Config {
        retention_days: 90,
        ..Config::default()
    };
    let storage = Arc::new(Sqlite::open(dir.path()).unwrap());
    let app = Arc::new(
        App::new(
            &config,
            Arc::clone(&storage),
            Blobs::local(&dir.path().join("blobs")).unwrap(),
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api/v1/telemetry", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(telemetry_collector::serve(
        Arc::clone(&app),
        listener,
        std::time::Duration::from_secs(3600),
        async move {
            let _ = stopped.await;
        },
    ));
    let post = |body: serde_json::Value| {
        let url = url.clone();
        tokio::task::spawn_blocking(move || {
            common::post_bytes(&url, &[], body.to_string().into_bytes())
        })
    };
    assert_eq!(
        post(json!([registration("m/old", "c")]))
            .await
            .unwrap()
            .body["accepted"],
        1
    );
    clock.advance(time::Duration::days(60));
    assert_eq!(
        post(json!([registration("m/new", "c")]))
            .await
            .unwrap()
            .body["accepted"],
        1
    );

    clock.advance(time::Duration::days(29));
    assert_eq!(
        app.apply_retention().await.unwrap(),
        0,
        "89 days old is kept"
    );
    clock.advance(time::Duration::days(2));
    assert_eq!(
        app.apply_retention().await.unwrap(),
        1,
        "91 days old is deleted"
    );
    assert_eq!(storage.count().await.unwrap(), (1, 0));

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
