//! `cargo run --example orders [-- --addr HOST:PORT]`: the orders service on
//! an in-memory store, on 127.0.0.1:3000 unless `--addr` or `ORDERS_ADDR`
//! says otherwise.

use std::net::SocketAddr;

use conflict_examples::orders::{Orders, router};
use conflict_runtime::http::Problem;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:3000";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("info,tower_http=debug")),
        )
        .init();
    let addr = address()?;
    let app = router(Orders::new())
        .layer(TraceLayer::new_for_http())
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(Problem::internal())
        }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("orders listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

fn address() -> Result<SocketAddr, String> {
    let mut args = std::env::args().skip(1);
    let mut addr = std::env::var("ORDERS_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => addr = args.next().ok_or("--addr needs HOST:PORT")?,
            "-h" | "--help" => {
                println!(
                    "usage: orders [--addr HOST:PORT]   (default {DEFAULT_ADDR}, or ORDERS_ADDR)"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument `{other}`; try --help")),
        }
    }
    addr.parse().map_err(|e| format!("--addr `{addr}`: {e}"))
}
