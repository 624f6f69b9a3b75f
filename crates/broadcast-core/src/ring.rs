//! The items themselves: stored once per publish, in blocks of consecutive sequence numbers
//! ([`Ring::block_len_for`]), kept in a ring of blocks.
//!
//! The subscribers' queues carry only sequence numbers; a subscriber clones the item out of its
//! block when it receives it. So publishing touches the item once (not once per subscriber),
//! and each clone and its drop happen on the receiving thread, as in `tokio::sync::broadcast`,
//! instead of bouncing the item's refcount between the publisher's core and the consumers'.
//! A subscriber keeps the block it reads from (one `Arc` clone per block), so receiving an item
//! costs an Acquire load and the item's clone, no atomic read-modify-write of ours. Blocks are
//! as long as the channel's default queue (8 to 64 items): a subscriber that lets go of its
//! block and takes the next one once per 8 items spends measurably more time on it than on
//! the items at 1000 subscribers; the bound of 64 keeps what a subscriber holds small.
//!
//! The ring holds [`Ring::len_for`] blocks: the newest, being filled, and enough full ones for
//! four queues' worth of items of the biggest subscriber queue. A block leaves the ring when the
//! publisher starts a block in its place, and is freed when no subscriber reads from it any
//! more. A subscriber that pops a sequence number whose block has left the ring (and is not the
//! one it holds) counts the item as dropped: only one whose queue kept that item for that many
//! publishes (a stalled drop-newest subscriber) can meet that.

use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwapOption;

/// The items of sequence numbers `base .. base + len`, each set once by the publisher.
pub(crate) struct Block<T> {
    /// First sequence number of the block (a multiple of its length).
    base: u64,
    /// One cell per sequence number.
    cells: Box<[OnceLock<T>]>,
}

impl<T> Block<T> {
    /// An empty block of `len` items for the sequence number `seq` belongs to.
    fn new(seq: u64, len: u64) -> Self {
        Self {
            base: seq - seq % len,
            cells: (0..len).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Whether `seq` belongs to this block.
    pub(crate) fn covers(&self, seq: u64) -> bool {
        seq.wrapping_sub(self.base) < self.cells.len() as u64
    }

    fn cell(&self, seq: u64) -> Option<&OnceLock<T>> {
        let offset = usize::try_from(seq.wrapping_sub(self.base)).ok()?;
        self.cells.get(offset)
    }
}

impl<T: Clone> Block<T> {
    /// A clone of item `seq` (`None` if it is not in this block or not set).
    pub(crate) fn get(&self, seq: u64) -> Option<T> {
        self.cell(seq)?.get().cloned()
    }
}

/// The ring: slot `(seq / block_len) % len` holds the newest block stored there.
pub(crate) struct Ring<T> {
    /// Written by the publisher (and cleared when the last subscriber leaves), read lock-free
    /// by subscribers.
    blocks: Box<[ArcSwapOption<Block<T>>]>,
    /// Items per block, fixed for the channel.
    block_len: u64,
}

impl<T> Ring<T> {
    /// Items per block for a channel whose default queue holds `capacity` items: `capacity`
    /// rounded up to a power of two, between 8 and 64.
    pub(crate) fn block_len_for(capacity: usize) -> u64 {
        u64::try_from(capacity)
            .unwrap_or(u64::MAX)
            .clamp(8, 64)
            .next_power_of_two()
    }

    /// Blocks needed for subscriber queues of `capacity` items: four queues' worth of items
    /// (at least 16), in full blocks, plus the block being filled.
    pub(crate) fn len_for(capacity: usize, block_len: u64) -> usize {
        let items = u64::try_from(capacity)
            .unwrap_or(u64::MAX)
            .saturating_mul(4)
            .max(16);
        usize::try_from(items.div_ceil(block_len)).map_or(usize::MAX / 2, |full| full + 1)
    }

    /// An empty ring of `len` blocks (at least 2) of `block_len` items.
    pub(crate) fn new(len: usize, block_len: u64) -> Self {
        Self {
            blocks: (0..len.max(2)).map(|_| ArcSwapOption::empty()).collect(),
            block_len: block_len.max(1),
        }
    }

    /// Items per block.
    pub(crate) fn block_len(&self) -> u64 {
        self.block_len
    }

    /// Number of blocks.
    pub(crate) fn len(&self) -> usize {
        self.blocks.len()
    }

    fn slot(&self, seq: u64) -> &ArcSwapOption<Block<T>> {
        let len = self.blocks.len() as u64;
        // The remainder is below `len`, a `usize`.
        &self.blocks[((seq / self.block_len) % len) as usize]
    }

    /// Stores `item` as `seq`. Starting a new block drops the block it replaces from the ring.
    pub(crate) fn store(&self, seq: u64, item: T) {
        let slot = self.slot(seq);
        if !seq.is_multiple_of(self.block_len) {
            let current = slot.load();
            if let Some(block) = current.as_ref().filter(|block| block.covers(seq)) {
                if let Some(cell) = block.cell(seq) {
                    // Err only if `seq` was set before, which unique sequence numbers rule out.
                    let _ = cell.set(item);
                }
                return;
            }
        }
        // The first item of a block, or the first one since the ring was cleared.
        let block = Block::new(seq, self.block_len);
        if let Some(cell) = block.cell(seq) {
            let _ = cell.set(item);
        }
        slot.store(Some(Arc::new(block)));
    }

    /// The block holding `seq`, if it is still in the ring.
    pub(crate) fn block(&self, seq: u64) -> Option<Arc<Block<T>>> {
        self.slot(seq).load_full().filter(|block| block.covers(seq))
    }

    /// Drops the ring's hold on the block of `seq` (a no-op if that block is gone already).
    pub(crate) fn forget(&self, seq: u64) {
        let slot = self.slot(seq);
        if slot.load().as_ref().is_some_and(|block| block.covers(seq)) {
            slot.store(None);
        }
    }

    /// Drops every block (the last subscriber left: memory back to baseline).
    pub(crate) fn clear(&self) {
        for slot in self.blocks.iter() {
            slot.store(None);
        }
    }

    /// A bigger ring holding the same blocks (each in its slot for the new length).
    pub(crate) fn grown(&self, len: usize) -> Self {
        let bigger = Self::new(len, self.block_len);
        for slot in self.blocks.iter() {
            if let Some(block) = slot.load_full() {
                bigger.slot(block.base).store(Some(block));
            }
        }
        bigger
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn get<T: Clone>(ring: &Ring<T>, seq: u64) -> Option<T> {
        ring.block(seq)?.get(seq)
    }

    #[test]
    fn block_len_follows_the_default_queue_within_bounds() {
        assert_eq!(Ring::<()>::block_len_for(1), 8);
        assert_eq!(Ring::<()>::block_len_for(5), 8);
        assert_eq!(Ring::<()>::block_len_for(20), 32);
        assert_eq!(Ring::<()>::block_len_for(256), 64);
        assert_eq!(Ring::<()>::block_len_for(usize::MAX), 64);
    }

    #[test]
    fn len_for_holds_four_queues_plus_the_block_being_filled() {
        assert_eq!(Ring::<()>::len_for(1, 16), 2);
        assert_eq!(Ring::<()>::len_for(5, 8), 4);
        assert_eq!(Ring::<()>::len_for(256, 64), 17);
        assert!(Ring::<()>::len_for(usize::MAX, 64) > 2);
    }

    #[test]
    fn an_item_is_there_until_its_block_is_replaced() {
        let ring = Ring::new(2, 16);
        for seq in 3..40u64 {
            ring.store(seq, seq);
        }
        // Blocks 16..32 and 32..48 are in the ring; 0..16 was replaced by 32..48.
        assert_eq!(get(&ring, 3), None);
        assert_eq!(get(&ring, 16), Some(16));
        assert_eq!(get(&ring, 39), Some(39));
        assert_eq!(get(&ring, 40), None, "not published yet");
        let held = ring.block(20).unwrap();
        for seq in 40..60u64 {
            ring.store(seq, seq);
        }
        assert_eq!(get(&ring, 20), None);
        assert_eq!(held.get(20), Some(20), "a held block keeps its items");
        ring.forget(59);
        assert_eq!(get(&ring, 59), None);
        assert_eq!(get(&ring, 48), None, "forget drops the whole block");
        assert_eq!(get(&ring, 40), Some(40));
    }

    #[test]
    fn growing_keeps_every_block() {
        let ring = Ring::new(3, 16);
        for seq in 100..130u64 {
            ring.store(seq, seq);
        }
        let bigger = ring.grown(9);
        for seq in 100..130u64 {
            assert_eq!(get(&bigger, seq), Some(seq));
        }
    }

    #[test]
    fn clear_drops_every_item() {
        let ring = Ring::new(3, 16);
        let item = Arc::new(());
        ring.store(200, item.clone());
        ring.store(201, item.clone());
        assert_eq!(Arc::strong_count(&item), 3);
        ring.clear();
        assert_eq!(Arc::strong_count(&item), 1);
        ring.store(202, item.clone());
        assert_eq!(
            get(&ring, 202),
            Some(item.clone()),
            "a fresh block after a clear"
        );
    }
}
