//! A TCP proxy between a server under test and its database, so that a test can make the
//! database vanish (every connection closed, new ones closed at once), hang (connections
//! accepted and held, nothing forwarded) and come back — without touching the PostgreSQL
//! server other tests share. It runs on a thread and a runtime of its own: the test's runtime
//! is blocked while a `zeropass` process starts, and that process connects through the proxy.

use std::net::SocketAddr;
use std::thread::JoinHandle;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forwards bytes both ways, as if nothing were in between.
    Forward,
    /// Closes every open connection and each new one at once: a stopped database.
    Closed,
    /// Accepts connections and holds them, forwarding nothing (open ones stall): a database
    /// that hangs, or a network that drops packets. Leaving this mode closes what was held,
    /// as a reset after a partition would.
    Hang,
}

/// A running proxy, stopped (every connection closed) when dropped.
#[derive(Debug)]
pub struct Proxy {
    address: SocketAddr,
    mode: watch::Sender<Mode>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Proxy {
    /// A proxy on a free loopback port forwarding to `upstream` (`host:port`).
    pub fn start(upstream: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let (mode, modes) = watch::channel(Mode::Forward);
        let (stop, stopped) = oneshot::channel();
        let upstream = upstream.to_owned();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                tokio::select! {
                    _ = stopped => {}
                    () = accept(listener, upstream, modes) => {}
                }
            });
            // Dropping the runtime cancels every connection's task: their sockets close.
        });
        Self {
            address,
            mode,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Where the proxy listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Switches the proxy to `mode`, for open connections and new ones.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept(listener: TcpListener, upstream: String, modes: watch::Receiver<Mode>) {
    loop {
        if let Ok((client, _)) = listener.accept().await {
            tokio::spawn(serve(client, upstream.clone(), modes.clone()));
        }
    }
}

async fn serve(mut client: TcpStream, upstream: String, mut modes: watch::Receiver<Mode>) {
    let mode = *modes.borrow_and_update();
    match mode {
        Mode::Closed => return,
        Mode::Hang => {
            let _ = modes.wait_for(|mode| *mode != Mode::Hang).await;
            return;
        }
        Mode::Forward => {}
    }
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => return,
        _ = modes.wait_for(|mode| *mode != Mode::Forward) => {}
    }
    if *modes.borrow() == Mode::Hang {
        // Both sockets stay open and silent until the hang ends.
        let _ = modes.wait_for(|mode| *mode != Mode::Hang).await;
    }
}
