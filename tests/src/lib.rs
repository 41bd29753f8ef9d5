//! End-to-end tests: real nats-server, real service binaries, real sockets.
