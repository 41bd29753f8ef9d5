//! The `Projector` seam: code that updates projections in the writer's transaction.

use crate::error::LogError;
use crate::event::RecordedEvent;

/// Updates read models in the same transaction that appends the events they are built from,
/// so a projection never runs ahead of or behind the log.
///
/// How the writer calls it:
/// - `migrate` once at open, on the writer's connection, after the log's own migrations.
/// - `apply` once for every request that appended events (never for an idempotent repeat),
///   inside that request's savepoint, with exactly the rows that request appended, in
///   position order. The transaction commits the rows and every projection change of the
///   batch together.
/// - When `apply` fails, the writer rolls that request back to its savepoint (its rows and
///   whatever `apply` wrote) and answers that request with the error; the other requests of
///   the batch are not affected. A projector must therefore keep its state in the database
///   (or be able to drop in-memory state that a rollback or a failed commit invalidates);
///   the log never calls `apply` twice for the same rows in one process unless the commit
///   failed and the caller retried.
pub trait Projector: Send + 'static {
    /// Creates or upgrades the projector's tables.
    fn migrate(&mut self, connection: &rusqlite::Connection) -> Result<(), LogError>;

    /// Applies the rows one request appended, inside the writer's transaction.
    fn apply(
        &mut self,
        transaction: &rusqlite::Transaction<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), LogError>;

    /// Called after the follower of a PostgreSQL log has committed what it projected (on its
    /// own connection to the local projection file), for work that must not run inside the
    /// transaction, such as clearing the write-ahead log of pages an erasure overwrote.
    /// Best effort: it cannot fail the rows. The default does nothing.
    fn after_commit(&mut self, _connection: &rusqlite::Connection) {}
}

/// Updates read models kept in the PostgreSQL database of the log itself, inside the append
/// transaction, so that they commit with the rows they are built from and every process
/// that reads them sees one state, whichever process appended.
///
/// How a PostgreSQL writer calls it:
/// - `migrate` once at open, after the log's own migrations.
/// - `position` in every append transaction, under the append lock: the last position its
///   tables include. When that is behind the head (rows appended by a handle without this
///   projector, or imported), the writer first folds the missing rows in, run by run of one
///   stream, and at open it does so in chunks of their own before it takes any request.
/// - `apply_all` once per batch with the rows of every request that appended rows (never for
///   a repeat), each request's exactly, in position order, after they are inserted and before
///   the commit; it must record the last row's position as its own. (`apply` is what catch-up
///   calls, run by run of one stream, and what the default `apply_all` calls per request.) When it fails, the writer rolls the whole batch back
///   and appends it again without that request, which is answered with the error.
/// - `after_commit` after each commit, for work that cannot run in a transaction (such as
///   `VACUUM` after an erasure). Best effort: it cannot fail the rows.
pub trait SharedProjector: Send + 'static {
    /// Creates or upgrades the projector's tables.
    fn migrate(&mut self, client: &mut postgres::Client) -> Result<(), LogError>;

    /// The position the projector's tables include (0 when empty).
    fn position(&mut self, transaction: &mut postgres::Transaction<'_>) -> Result<u64, LogError>;

    /// Applies rows of one stream, inside the append transaction.
    fn apply(
        &mut self,
        transaction: &mut postgres::Transaction<'_>,
        events: &[RecordedEvent],
    ) -> Result<(), LogError>;

    /// Applies the rows of every request of a batch that appended rows (one stream each, in
    /// position order), as `apply` on each in turn, but free to read and write its tables once
    /// for all of them. On failure, the index of the request it failed on and the error (a
    /// `Projector` error refuses that request; any other fails the batch). The default calls
    /// `apply` on each.
    fn apply_all(
        &mut self,
        transaction: &mut postgres::Transaction<'_>,
        requests: &[Vec<RecordedEvent>],
    ) -> Result<(), (usize, LogError)> {
        for (index, events) in requests.iter().enumerate() {
            self.apply(transaction, events)
                .map_err(|error| (index, error))?;
        }
        Ok(())
    }

    /// Called after each commit that included rows. The default does nothing.
    fn after_commit(&mut self) {}
}
