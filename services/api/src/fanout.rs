//! Reading one page of events spread over many partitions: the partitions
//! of a query are grouped by time bucket (one hour of every commune, one
//! day of every camera, one month of a plate); groups are read in time
//! order, several at once up to a fan-out bound, and their partitions
//! merged lazily in time order (a k-way merge that fetches a partition's
//! next rows only when the merge reaches them) until the page is full.
//!
//! Why this is exact: buckets do not overlap in time, so every row of a
//! group comes before every row of the next; and within a batch the merge
//! always takes the next row in scan order among all partitions' heads.

use std::cmp::Ordering;
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use vigil_store::{Direction, EventReader, EventRow, Partition, StoreError};

use vigil_request::{Cursor, Window};

/// The partitions of a query, one group per time bucket, in scan order.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) groups: Vec<Vec<Partition>>,
    pub(crate) window: Window,
    pub(crate) direction: Direction,
}

/// Keeps a row or not, from its cheap columns, before it is decoded.
pub(crate) type RowFilter = Arc<dyn Fn(&EventRow) -> bool + Send + Sync>;

/// A page: up to the rows asked for, and whether more follow.
#[derive(Debug)]
pub(crate) struct Page {
    pub(crate) rows: Vec<EventRow>,
    pub(crate) more: bool,
}

/// The order rows are returned in: newest first (ties by ascending id), or
/// exactly the reverse.
pub(crate) fn scan_order(
    direction: Direction,
    a: (i64, uuid::Uuid),
    b: (i64, uuid::Uuid),
) -> Ordering {
    let newest_first = b.0.cmp(&a.0).then(a.1.cmp(&b.1));
    match direction {
        Direction::NewestFirst => newest_first,
        Direction::OldestFirst => newest_first.reverse(),
    }
}

impl Plan {
    /// Reads the `want` rows after `after` (or from the start) that pass
    /// `keep`, querying at most `fanout` partitions at once.
    pub(crate) async fn page(
        &self,
        reader: &EventReader,
        after: Option<Cursor>,
        want: usize,
        fanout: usize,
        keep: RowFilter,
    ) -> Result<Page, StoreError> {
        let direction = self.direction;
        let mut window = self.window;
        if let Some(cursor) = after {
            // Rows at the cursor's millisecond may still follow it.
            match direction {
                Direction::NewestFirst => window.end_ms = window.end_ms.min(cursor.at_ms + 1),
                Direction::OldestFirst => window.start_ms = window.start_ms.max(cursor.at_ms),
            }
        }
        let position = |row: &EventRow| (row.captured_at_ms, row.event_id);
        let after_cursor = move |row: &EventRow| {
            after.is_none_or(|c| {
                scan_order(direction, position(row), (c.at_ms, c.event_id)) == Ordering::Greater
            })
        };
        let mut rows: Vec<EventRow> = Vec::with_capacity(want + 1);
        let mut groups = self.groups.iter().peekable();
        while groups.peek().is_some() {
            // Enough whole groups to keep `fanout` queries busy.
            let mut batch: Vec<&Partition> = Vec::new();
            while let Some(group) = groups.next_if(|_| batch.len() < fanout.max(1)) {
                batch.extend(group);
            }
            let needed = want + 1 - rows.len();
            // Each partition is read lazily, a few rows per round trip: a
            // province-wide page takes ~100 rows from 166 communes, not 100
            // from each. Hot partitions fetch further pages as the merge
            // reaches them.
            let per_partition = (needed / batch.len().max(1)) * 2 + 4;
            let page_size = i32::try_from(per_partition.min(needed).min(5_000)).unwrap_or(5_000);
            let opens: Vec<_> = batch
                .into_iter()
                .map(|partition| {
                    let keep = Arc::clone(&keep);
                    async move {
                        let rows = reader
                            .scan(
                                partition,
                                window.start_ms,
                                window.end_ms,
                                direction,
                                page_size,
                            )
                            .await?
                            .try_filter(move |row| {
                                std::future::ready(after_cursor(row) && keep(row))
                            })
                            .boxed();
                        Ok::<_, StoreError>(rows)
                    }
                })
                .collect();
            let mut streams: Vec<_> = futures::stream::iter(opens)
                .buffered(fanout.max(1))
                .try_collect()
                .await?;
            let firsts = futures::future::join_all(streams.iter_mut().map(StreamExt::next)).await;
            let mut heads: Vec<Option<EventRow>> = firsts
                .into_iter()
                .map(Option::transpose)
                .collect::<Result<_, _>>()?;
            // A k-way merge: take the next row in scan order, refill from
            // the partition it came from.
            while rows.len() <= want {
                let next = heads
                    .iter()
                    .enumerate()
                    .filter_map(|(i, head)| head.as_ref().map(|row| (i, position(row))))
                    .min_by(|a, b| scan_order(direction, a.1, b.1))
                    .map(|(i, _)| i);
                let Some(i) = next else { break };
                rows.extend(heads[i].take());
                heads[i] = streams[i].next().await.transpose()?;
            }
            if rows.len() > want {
                rows.truncate(want);
                return Ok(Page { rows, more: true });
            }
        }
        Ok(Page { rows, more: false })
    }
}

/// Bucket starts covering `window`, in `direction`, from a function giving
/// the bucket of an instant and one giving the next bucket's start.
pub(crate) fn buckets(
    window: Window,
    direction: Direction,
    bucket_of: impl Fn(i64) -> i64,
    next: impl Fn(i64) -> i64,
) -> Vec<i64> {
    let mut starts = Vec::new();
    let mut at = bucket_of(window.start_ms);
    while at < window.end_ms {
        starts.push(at);
        at = next(at);
    }
    if direction == Direction::NewestFirst {
        starts.reverse();
    }
    starts
}

/// The start of the month after the one starting at `month`.
pub(crate) fn next_month(month: i64) -> i64 {
    vigil_store::month_bucket(month + 32 * 86_400_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn orders_are_exact_reverses() {
        let a = (10, Uuid::from_u128(1));
        let b = (10, Uuid::from_u128(2));
        let c = (20, Uuid::from_u128(0));
        let mut rows = vec![a, b, c];
        rows.sort_by(|x, y| scan_order(Direction::NewestFirst, *x, *y));
        assert_eq!(rows, vec![c, a, b]);
        rows.sort_by(|x, y| scan_order(Direction::OldestFirst, *x, *y));
        assert_eq!(rows, vec![b, a, c]);
    }

    #[test]
    fn buckets_cover_the_window_in_order() {
        let hour = 3_600_000;
        let window = Window {
            start_ms: hour + 5,
            end_ms: 3 * hour + 1,
        };
        let of = |at: i64| at.div_euclid(hour) * hour;
        let next = |at: i64| at + hour;
        assert_eq!(
            buckets(window, Direction::OldestFirst, of, next),
            vec![hour, 2 * hour, 3 * hour]
        );
        assert_eq!(
            buckets(window, Direction::NewestFirst, of, next),
            vec![3 * hour, 2 * hour, hour]
        );
        let exact = Window {
            start_ms: hour,
            end_ms: 2 * hour,
        };
        assert_eq!(buckets(exact, Direction::OldestFirst, of, next), vec![hour]);
    }

    #[test]
    fn months_advance_by_calendar_month() {
        // 2026-01-01 → 2026-02-01 → 2026-03-01.
        let jan = 1_767_225_600_000;
        let feb = next_month(jan);
        assert_eq!(feb - jan, 31 * 86_400_000);
        assert_eq!(next_month(feb) - feb, 28 * 86_400_000);
    }
}
