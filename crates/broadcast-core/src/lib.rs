//! Lock-free one-to-many fan-out with per-subscriber bounded drop-newest (or drop-oldest) queues.
