//! Sets of byte ranges: what a receiver holds of a file, and what a sender still has to send.

use peerdrop_proto::transfer::ByteRange;

/// A set of disjoint, sorted, non-adjacent half-open ranges.
///
/// Frames nearly always arrive in order, so inserting at the end is the fast path; anything
/// else (resume, several data channels) is still correct, just a little slower.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeSet {
    ranges: Vec<ByteRange>,
}

impl RangeSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set from arbitrary (possibly overlapping, unsorted, empty) ranges.
    pub fn from_ranges(ranges: &[ByteRange]) -> Self {
        let mut set = Self::new();
        for r in ranges {
            set.insert(r.start, r.end);
        }
        set
    }

    /// Adds `[start, end)`, merging with neighbours. Empty ranges are ignored.
    pub fn insert(&mut self, start: u64, end: u64) {
        if start >= end {
            return;
        }
        if let Some(last) = self.ranges.last_mut() {
            if start >= last.start && start <= last.end {
                last.end = last.end.max(end);
                return;
            }
            if start > last.end {
                self.ranges.push(ByteRange { start, end });
                return;
            }
        } else {
            self.ranges.push(ByteRange { start, end });
            return;
        }
        // General case: find overlapping/adjacent ranges and merge them.
        let first = self.ranges.partition_point(|r| r.end < start);
        let last = self.ranges.partition_point(|r| r.start <= end);
        let merged_start = start.min(self.ranges.get(first).map_or(start, |r| r.start));
        let merged_end = if last > first {
            end.max(self.ranges[last - 1].end)
        } else {
            end
        };
        self.ranges.splice(
            first..last,
            [ByteRange {
                start: merged_start,
                end: merged_end,
            }],
        );
    }

    /// End of the range that holds position `pos` (`start <= pos < end`), if any: how far the
    /// bytes from `pos` on are contiguous.
    pub fn run_end_at(&self, pos: u64) -> Option<u64> {
        let at = self.ranges.partition_point(|r| r.end <= pos);
        self.ranges
            .get(at)
            .filter(|r| r.start <= pos)
            .map(|r| r.end)
    }

    /// Total number of bytes covered.
    pub fn covered(&self) -> u64 {
        self.ranges.iter().map(|r| r.end - r.start).sum()
    }

    /// Whether `[0, size)` is fully covered.
    pub fn covers_all(&self, size: u64) -> bool {
        size == 0
            || (self.ranges.len() == 1 && self.ranges[0].start == 0 && self.ranges[0].end >= size)
    }

    /// The parts of `[0, size)` not in the set, in order.
    pub fn missing(&self, size: u64) -> Vec<ByteRange> {
        let mut gaps = Vec::new();
        let mut cursor = 0;
        for r in &self.ranges {
            if r.start >= size {
                break;
            }
            if r.start > cursor {
                gaps.push(ByteRange {
                    start: cursor,
                    end: r.start,
                });
            }
            cursor = cursor.max(r.end);
        }
        if cursor < size {
            gaps.push(ByteRange {
                start: cursor,
                end: size,
            });
        }
        gaps
    }

    /// How many separate ranges the set holds.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// The ranges, sorted and disjoint.
    pub fn ranges(&self) -> &[ByteRange] {
        &self.ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(start: u64, end: u64) -> ByteRange {
        ByteRange { start, end }
    }

    #[test]
    fn sequential_inserts_merge() {
        let mut set = RangeSet::new();
        set.insert(0, 10);
        set.insert(10, 20);
        assert_eq!(set.ranges(), &[r(0, 20)]);
        assert!(set.covers_all(20));
        assert!(!set.covers_all(21));
    }

    #[test]
    fn out_of_order_and_duplicate_inserts() {
        let mut set = RangeSet::new();
        set.insert(30, 40);
        set.insert(0, 10);
        set.insert(5, 8);
        assert_eq!(set.ranges(), &[r(0, 10), r(30, 40)]);
        set.insert(10, 30);
        assert_eq!(set.ranges(), &[r(0, 40)]);
        assert_eq!(set.covered(), 40);
    }

    #[test]
    fn missing_lists_gaps() {
        let set = RangeSet::from_ranges(&[r(10, 20), r(30, 35)]);
        assert_eq!(set.missing(40), vec![r(0, 10), r(20, 30), r(35, 40)]);
        assert_eq!(RangeSet::new().missing(5), vec![r(0, 5)]);
        assert!(RangeSet::new().missing(0).is_empty());
    }

    #[test]
    fn insert_spanning_several_ranges() {
        let mut set = RangeSet::from_ranges(&[r(0, 5), r(10, 15), r(20, 25), r(40, 50)]);
        set.insert(3, 22);
        assert_eq!(set.ranges(), &[r(0, 25), r(40, 50)]);
    }

    #[test]
    fn the_run_at_a_position_ends_where_the_bytes_stop_being_contiguous() {
        let set = RangeSet::from_ranges(&[
            ByteRange { start: 0, end: 10 },
            ByteRange { start: 20, end: 30 },
        ]);
        assert_eq!(set.run_end_at(0), Some(10));
        assert_eq!(set.run_end_at(9), Some(10));
        assert_eq!(set.run_end_at(10), None);
        assert_eq!(set.run_end_at(15), None);
        assert_eq!(set.run_end_at(20), Some(30));
        assert_eq!(set.run_end_at(30), None);
        assert_eq!(RangeSet::new().run_end_at(0), None);
    }
}
