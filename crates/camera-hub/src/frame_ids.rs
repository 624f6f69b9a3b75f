//! Which broadcast id a live frame gets: the hub's own counter for a camera, the upstream's
//! `X-Frame-Id` (plus an offset) when the upstream is another relay.
//!
//! Chained relays (relay B reading relay A's `/cams/NAME/stream`) show the origin's ids, so a
//! frame has the same `X-Frame-Id` on every hop. Ids never go back: when the upstream's id
//! would give an id below what this hub already published (the upstream restarted and counts
//! from 1 again, or a newer upstream numbers lower), the hub keeps an **offset** from then on
//! so its ids stay monotonic: that frame gets the next id, the following ones the upstream's id
//! plus the same offset (so gaps and order stay as the upstream sent them, only shifted). The
//! offset never shrinks: once shifted, the hub's ids stay shifted until it restarts. A re-sent
//! frame (the upstream's keepalive, same id again right after itself) keeps its id.

/// Assigns broadcast ids to a camera's live frames.
#[derive(Debug, Default)]
pub(crate) struct FrameIds {
    /// Added to upstream ids; grows only when an upstream id would go back.
    offset: u64,
    /// The upstream id of the frame published last, while nothing else was published since
    /// (to recognise a keepalive re-send).
    last_upstream: Option<u64>,
}

impl FrameIds {
    /// The id for a live frame, given the camera's `next` id (one past the last published).
    /// Returns the id and the new `next`.
    pub(crate) fn assign(&mut self, upstream: Option<u64>, next: u64) -> (u64, u64) {
        let Some(upstream) = upstream else {
            self.last_upstream = None;
            return (next, next.saturating_add(1));
        };
        let mapped = upstream.saturating_add(self.offset);
        let id = if mapped >= next {
            mapped
        } else if self.last_upstream == Some(upstream) && mapped.saturating_add(1) == next {
            // The same frame again, nothing published in between: the same id.
            mapped
        } else {
            self.offset = next - upstream;
            tracing::info!(
                upstream,
                offset = self.offset,
                "upstream frame ids went back (upstream restarted?): shifting them"
            );
            next
        };
        self.last_upstream = Some(upstream);
        (id, id.saturating_add(1).max(next))
    }

    /// Something else (an offline card) took id `next - 1`: a repeat of the last upstream
    /// frame is no longer a re-send.
    pub(crate) fn other_published(&mut self) {
        self.last_upstream = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `upstream` ids from `next`; returns the ids given.
    fn run(ids: &mut FrameIds, next: &mut u64, upstream: &[Option<u64>]) -> Vec<u64> {
        upstream
            .iter()
            .map(|u| {
                let (id, after) = ids.assign(*u, *next);
                *next = after;
                id
            })
            .collect()
    }

    #[test]
    fn a_camera_without_ids_counts_from_next() {
        let (mut ids, mut next) = (FrameIds::default(), 1);
        assert_eq!(run(&mut ids, &mut next, &[None, None, None]), [1, 2, 3]);
        assert_eq!(next, 4);
    }

    #[test]
    fn a_relay_upstream_keeps_its_ids_gaps_and_resends() {
        let (mut ids, mut next) = (FrameIds::default(), 1);
        let got = run(
            &mut ids,
            &mut next,
            &[Some(500), Some(501), Some(501), Some(505), Some(506)],
        );
        assert_eq!(got, [500, 501, 501, 505, 506]);
        assert_eq!(next, 507);
    }

    #[test]
    fn an_upstream_restart_shifts_ids_and_they_never_go_back() {
        let (mut ids, mut next) = (FrameIds::default(), 1);
        run(&mut ids, &mut next, &[Some(900), Some(901)]);
        // The upstream restarted: 1, 2, 3 ... become 902, 903, 904 ...
        let got = run(&mut ids, &mut next, &[Some(1), Some(2), Some(4)]);
        assert_eq!(got, [902, 903, 905]);
        // Then it restarts again, even lower than the shifted ids.
        let got = run(&mut ids, &mut next, &[Some(1), Some(2)]);
        assert_eq!(got, [906, 907]);
        // An upstream that jumps far ahead keeps the offset (never shrinks).
        let got = run(&mut ids, &mut next, &[Some(10_000)]);
        assert_eq!(got, [10_905]);
    }

    #[test]
    fn a_repeat_after_an_offline_card_is_not_a_resend() {
        let (mut ids, mut next) = (FrameIds::default(), 1);
        run(&mut ids, &mut next, &[Some(40)]);
        // The hub published an offline card with id 41.
        ids.other_published();
        next += 1;
        let got = run(&mut ids, &mut next, &[Some(40), Some(41)]);
        assert_eq!(got, [42, 43]);
    }

    #[test]
    fn hostile_ids_saturate_instead_of_overflowing() {
        let (mut ids, mut next) = (FrameIds::default(), 1);
        let got = run(&mut ids, &mut next, &[Some(u64::MAX), Some(3), None]);
        assert_eq!(got, [u64::MAX, u64::MAX, u64::MAX]);
        assert_eq!(next, u64::MAX);
    }
}
