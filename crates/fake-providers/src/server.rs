//! Runs one fake provider's actix-web app on a thread of its own with its own actix `System`,
//! so the caller's runtime (none, or a `#[tokio::test]` one) is never involved, and stops it
//! when the [`Running`] handle is dropped.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};

/// A fake provider's server; dropping it stops the server and waits for its thread.
#[derive(Debug)]
pub(crate) struct Running {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    /// Serves the app that `configure` sets up on `listener`; returns once the server accepts
    /// connections (the listener is already bound, so none are lost in between).
    pub(crate) fn serve<F>(listener: TcpListener, configure: F) -> io::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let addr = listener.local_addr()?;
        let (started, outcome) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("fake-provider-{addr}"))
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || App::new().configure(configure.clone()))
                        .workers(1)
                        .disable_signals()
                        .shutdown_timeout(1)
                        .listen(listener)
                        .map(HttpServer::run);
                    match server {
                        Ok(server) => {
                            let _ = started.send(Ok(server.handle()));
                            let _ = server.await;
                        }
                        Err(error) => {
                            let _ = started.send(Err(error));
                        }
                    }
                });
            })?;
        let handle = outcome
            .recv()
            .map_err(|_| io::Error::other("the fake provider's thread stopped while starting"))??;
        Ok(Self {
            addr,
            handle,
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // `stop` sends the command at once; its future only reports completion, which joining
        // the thread (whose `System` ends with the server) already waits for.
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
