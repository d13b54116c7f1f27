//! A TCP relay in front of a backend that can be stopped — its listener closed
//! and every open connection dropped, as when the backend's process dies — and
//! started again on the same port. Tests and the failover benchmark use it to
//! kill a backend under load and bring it back.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A relay to `target` that can be switched off and on.
#[derive(Debug)]
pub struct SwitchableRelay {
    address: SocketAddr,
    target: SocketAddr,
    relay: Option<JoinHandle<()>>,
}

impl SwitchableRelay {
    /// A running relay to `target` on a free loopback port.
    pub fn start(target: SocketAddr) -> std::io::Result<Self> {
        let mut relay = Self {
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            target,
            relay: None,
        };
        relay.resume()?;
        Ok(relay)
    }

    /// Where clients connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Starts relaying again, on the same port.
    pub fn resume(&mut self) -> std::io::Result<()> {
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(self.address)?;
        let listener: TcpListener = socket.listen(1024)?;
        self.address = listener.local_addr()?;
        let target = self.target;
        self.relay = Some(tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    continue;
                };
                inbound.set_nodelay(true).ok();
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        outbound.set_nodelay(true).ok();
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                // Forget the connections that have ended.
                while connections.try_join_next().is_some() {}
            }
        }));
        Ok(())
    }

    /// Stops relaying: new connections are refused, open ones are dropped.
    pub async fn stop(&mut self) {
        if let Some(relay) = self.relay.take() {
            relay.abort();
            let _ = relay.await;
        }
    }
}
