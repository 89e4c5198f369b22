//! A TCP proxy in front of the emulator that a test can switch to refuse, reset or stall connections:
//! an outage without restarting moto, which keeps its state only in memory.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward to the emulator.
    None,
    /// Refuse new connections (nothing listens) and cut open ones.
    Refuse,
    /// Accept, then reset at once; cut open ones.
    Reset,
    /// Accept and never answer; cut open ones.
    Stall,
}

/// A running proxy; stops when dropped.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    fault: watch::Sender<Fault>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// A proxy on a free loopback port forwarding to `upstream` (an `http://host:port` endpoint).
    pub async fn start(upstream: &str) -> std::io::Result<Self> {
        let upstream: SocketAddr = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (fault, watcher) = watch::channel(Fault::None);
        let task = tokio::spawn(serve(listener, addr, upstream, Arc::new(watcher)));
        Ok(Self { addr, fault, task })
    }

    /// The endpoint URL to give SDK clients instead of the emulator's.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the fault; open connections are cut whenever it is not [`Fault::None`].
    pub fn set(&self, fault: Fault) {
        self.fault.send_replace(fault);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut listener: TcpListener,
    addr: SocketAddr,
    upstream: SocketAddr,
    fault: Arc<watch::Receiver<Fault>>,
) {
    let mut changes = (*fault).clone();
    loop {
        if *changes.borrow_and_update() == Fault::Refuse {
            // Nothing listens: connecting fails with "connection refused".
            drop(listener);
            loop {
                if changes.changed().await.is_err() {
                    return;
                }
                if *changes.borrow_and_update() != Fault::Refuse {
                    break;
                }
            }
            listener = match TcpListener::bind(addr).await {
                Ok(listener) => listener,
                Err(_) => return,
            };
            continue;
        }
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                tokio::spawn(connection(client, upstream, (*fault).clone()));
            }
            changed = changes.changed() => {
                if changed.is_err() { return; }
            }
        }
    }
}

async fn connection(mut client: TcpStream, upstream: SocketAddr, mut fault: watch::Receiver<Fault>) {
    let current = *fault.borrow_and_update();
    match current {
        Fault::None => {}
        Fault::Reset | Fault::Refuse => {
            reset(&client);
            return;
        }
        Fault::Stall => {
            // Hold the connection, answering nothing, until the fault changes.
            let _ = fault.changed().await;
            return;
        }
    }
    let Ok(mut server) = TcpStream::connect(upstream).await else { return };
    tokio::select! {
        _ = copy_bidirectional(&mut client, &mut server) => {}
        _ = async {
            while fault.changed().await.is_ok() {
                if *fault.borrow_and_update() != Fault::None { break; }
            }
        } => {
            reset(&client);
        }
    }
}

/// Makes dropping the socket send a TCP reset instead of a clean close.
#[allow(deprecated)] // SO_LINGER blocks on drop only with a non-zero linger; zero resets at once.
fn reset(stream: &TcpStream) {
    let _ = stream.set_linger(Some(std::time::Duration::ZERO));
}
