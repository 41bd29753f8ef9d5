//! Erasure tests (filled below).
