//! What the engine's supervisor reports reaches operators: a background task that was restarted
//! is counted in `/metrics`, and a critical one that died makes `/readyz` answer 503 naming it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use switchyard_api::{ApiConfig, AppParts, AppState, HttpMetrics, MetricsAccess};
use switchyard_engine::{Engine, EngineConfig, Policy};
use switchyard_store::Store;
use switchyard_store::sqlite::{SqliteOptions, SqliteStore};
use switchyard_testkit::{PATIENCE, wait_until};
use tower::ServiceExt;

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let request = Request::builder().uri(uri).body(Body::empty()).expect("a request");
    let response = app.clone().oneshot(request).await.expect("an answer");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("the body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_restarted_task_is_counted_and_a_dead_critical_task_makes_the_node_unready() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = SqliteOptions {
        data_dir: dir.path().to_owned(),
        durability: switchyard_store::Durability::None,
        clock: switchyard_store::SystemClock::shared(),
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(options).expect("the store opens"));
    let engine = Arc::new(Engine::new(store.clone(), EngineConfig::default()));
    let state = AppState::new(AppParts {
        engine: engine.clone(),
        metrics: Arc::new(HttpMetrics::new(store.metrics())),
        config: Arc::new(ApiConfig { metrics_access: MetricsAccess::Public, ..ApiConfig::default() }),
        ready: Arc::new(AtomicBool::new(true)),
        shutdown: switchyard_api::Shutdown::new(),
    });
    let app = switchyard_api::router(state);
    assert_eq!(get(&app, "/readyz").await.0, StatusCode::OK);

    let supervisor = engine.supervisor();
    let runs = Arc::new(AtomicU32::new(0));
    let counted = runs.clone();
    supervisor.spawn_named("flaky", Policy::Restart, move |cancel| {
        let run = counted.fetch_add(1, Ordering::SeqCst);
        async move {
            if run == 0 {
                return Err("first run fails".into());
            }
            cancel.cancelled().await;
            Ok(())
        }
    });
    wait_until("the flaky task to be restarted", PATIENCE, || async {
        (runs.load(Ordering::SeqCst) == 2).then_some(())
    })
    .await;
    let (status, metrics) = get(&app, "/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.contains("switchyard_task_restarts_total{task=\"flaky\"} 1"), "{metrics}");
    assert_eq!(get(&app, "/readyz").await.0, StatusCode::OK, "a restarted task leaves the node ready");

    supervisor.spawn_named("vital", Policy::Critical, |_| async { Err("lost its connection".into()) });
    wait_until("the critical task to be reported", PATIENCE, || async { supervisor.critical_failure() }).await;
    let (status, body) = get(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("vital") && body.contains("lost its connection"), "{body}");
    let (_, metrics) = get(&app, "/metrics").await;
    assert!(metrics.contains("switchyard_task_failed{task=\"vital\"} 1"), "{metrics}");

    assert!(supervisor.shutdown(PATIENCE).await.is_clean());
    store.close().await;
}
