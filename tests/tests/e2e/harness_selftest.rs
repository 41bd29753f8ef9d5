//! Checks the harness itself: a nats-server starts, stops, and starts again on the same port
//! with the same store.

use e2e::NatsServer;
use std::net::TcpStream;

#[test]
fn nats_server_starts_stops_and_restarts_on_the_same_port() {
    let mut nats = NatsServer::start();
    let address = nats.address();
    assert!(
        TcpStream::connect(&address).is_ok(),
        "server listens on {address}"
    );
    nats.stop();
    assert!(
        TcpStream::connect(&address).is_err(),
        "stopped server still listens"
    );
    nats.start_again();
    assert!(
        TcpStream::connect(&address).is_ok(),
        "restarted server listens on {address}"
    );
    assert!(
        nats.version().starts_with("2."),
        "version is {}",
        nats.version()
    );
}
