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

/// The collector in process on `clock`, serving until `stop` is sent.
async fn start(
    dir: &std::path::Path,
    clock: &ManualClock,
) -> (
    Arc<App<Sqlite>>,
    String,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let storage = Arc::new(Sqlite::open(dir).unwrap());
    let app = Arc::new(
        App::new(
            &Config::default(),
            storage,
            Blobs::local(&dir.join("blobs")).unwrap(),
            Arc::new(clock.clone()),
        )
        .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(telemetry_collector::serve(
        Arc::clone(&app),
        listener,
        std::time::Duration::from_secs(3600),
        async move {
            let _ = stopped.await;
        },
    ));
    (app, base, stop, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_traces_lose_their_content_and_keep_their_leaf_and_tokens_expire() {
    use common::traces::{Upload, chunk, send, session};
    use telemetry_trace::{Trace, VerifierKey, verify_offline};

    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::at(time::macros::datetime!(2026-01-01 00:00 UTC));
    let (app, base, stop, server) = start(dir.path(), &clock).await;
    let blocking = |work: Box<dyn FnOnce() -> Upload + Send>| tokio::task::spawn_blocking(work);

    let at = base.clone();
    let old = blocking(Box::new(move || {
        let upload = Upload::create(&at, "p-old");
        assert_eq!(upload.ingest("k", &chunk(0, &session(4, None))).status, 200);
        assert_eq!(upload.complete().status, 200);
        upload
    }))
    .await
    .unwrap();
    clock.advance(time::Duration::days(60));
    let at = base.clone();
    let new = blocking(Box::new(move || {
        let upload = Upload::create(&at, "p-new");
        assert_eq!(upload.ingest("k", &chunk(0, &session(3, None))).status, 200);
        upload
    }))
    .await
    .unwrap();

    // An hour and a bit later the upload token has expired; a fresh one,
    // asked for with the ingest key, works.
    clock.advance(time::Duration::minutes(61));
    let (new, old) = tokio::task::spawn_blocking(move || {
        let expired = new.complete();
        assert_eq!(expired.status, 401, "{}", expired.text);
        assert!(expired.text.contains("expired"), "{}", expired.text);
        let renewed = send("POST", &new.url("/token"), &[], Some(b""));
        assert_eq!(renewed.status, 201, "{}", renewed.text);
        let new = Upload {
            token: renewed.body["upload_token"].as_str().unwrap().to_owned(),
            ..new
        };
        assert_eq!(new.complete().status, 200);
        (new, old)
    })
    .await
    .unwrap();

    clock.advance(time::Duration::days(31));
    assert_eq!(app.apply_retention().await.unwrap(), 1, "91 days old");
    let base_for_check = base.clone();
    tokio::task::spawn_blocking(move || {
        assert_eq!(old.get().status, 404);
        let key = send("GET", &format!("{base_for_check}/v1/log/key"), &[], None).text;
        let key = VerifierKey::parse(key.trim()).unwrap();
        let checkpoint = send(
            "GET",
            &format!("{base_for_check}/v1/log/checkpoint"),
            &[],
            None,
        )
        .text;
        let trace: Trace = serde_json::from_str(&new.get().text).unwrap();
        let verified = verify_offline(&trace, &checkpoint, &key).unwrap();
        assert_eq!(
            (verified.leaf_index, verified.tree_size),
            (1, 2),
            "the old leaf stays"
        );
    })
    .await
    .unwrap();

    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
