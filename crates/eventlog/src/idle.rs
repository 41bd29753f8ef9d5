//! A few idle connections kept for reuse across reads: the SQLite readers' and the
//! PostgreSQL pool's.

use std::sync::{Mutex, MutexGuard};

/// At most `max_idle` idle connections.
pub(crate) struct IdleConnections<C> {
    max_idle: usize,
    idle: Mutex<Vec<C>>,
}

impl<C> IdleConnections<C> {
    pub fn new(max_idle: usize) -> Self {
        IdleConnections {
            max_idle,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection, if there is one.
    pub fn take(&self) -> Option<C> {
        self.lock().pop()
    }

    /// Keeps `connection` for later, unless `max_idle` are idle already.
    pub fn keep(&self, connection: C) {
        let mut idle = self.lock();
        if idle.len() < self.max_idle {
            idle.push(connection);
        }
    }

    /// Every idle connection, taken out (to close them).
    pub fn take_all(&mut self) -> Vec<C> {
        std::mem::take(
            self.idle
                .get_mut()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    fn lock(&self) -> MutexGuard<'_, Vec<C>> {
        self.idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
