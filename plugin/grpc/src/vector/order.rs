//! Batch order for the relay: Vector's `vector` sink sends several batches at
//! once by default (`request.concurrency: adaptive`), and they reach the relay
//! out of order: the sender's request tasks race, and a larger body takes
//! longer to arrive and decode than the smaller one behind it. The core
//! follows sessions line by line, so a session split across two batches
//! enriched in the wrong order loses its id, its counts and its verdict.
//!
//! The [`Sequencer`] gives each sending host (peer address) one turn at a
//! time, in the order Vector read the events: a batch is keyed by its first
//! event's ingest time ([`super::raw::ingest_time`]), waits `window` after its
//! arrival for earlier batches still on their way, and then enriches when it
//! is the earliest waiting. Batches without an ingest time have no place to
//! sort into and take their turn on arrival. Only the enrichment is
//! serialised; decoding, splicing and the downstream call stay concurrent, so
//! at adaptive concurrency the window adds latency, which Vector's concurrency
//! controller covers with more requests in flight, not lost throughput. A
//! batch that still arrives after a later one was enriched is counted
//! (`postfix_enrich_relay_late_batches_total`) and logged once.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::metrics::METRICS;

/// An ingest time, (seconds, nanoseconds) since the epoch.
pub type Stamp = (i64, i32);

/// Where a batch sorts: batches without a stamp first (they take their turn
/// on arrival), then by stamp, then by arrival.
type Place = (Option<Stamp>, u64);

/// Hands out enrichment turns in reading order, per sending host.
pub struct Sequencer {
    window: Duration,
    peers: Mutex<HashMap<IpAddr, Arc<Peer>>>,
}

/// Peers remembered at most; idle ones are forgotten beyond that.
const MAX_PEERS: usize = 1024;

#[derive(Default)]
struct Peer {
    state: Mutex<PeerState>,
    changed: Notify,
}

#[derive(Default)]
struct PeerState {
    /// Batches waiting for their turn, with their arrival.
    waiting: BTreeMap<Place, Instant>,
    next_ticket: u64,
    /// A batch of this peer is being enriched.
    busy: bool,
    /// The latest stamp enriched so far.
    released: Option<Stamp>,
    /// When the batch holding `released` was released.
    released_at: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The right to enrich one batch now; the next batch's turn comes when it is dropped.
pub struct Turn {
    peer: Arc<Peer>,
}

impl Drop for Turn {
    fn drop(&mut self) {
        lock(&self.peer.state).busy = false;
        self.peer.changed.notify_waiters();
    }
}

/// A batch's place in the queue; leaves the queue if the call is dropped
/// while waiting (a cancelled call must not hold up the batches behind it).
struct Waiting {
    peer: Arc<Peer>,
    place: Place,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if lock(&self.peer.state).waiting.remove(&self.place).is_some() {
            self.peer.changed.notify_waiters();
        }
    }
}

impl Sequencer {
    /// A sequencer holding each batch `window` for earlier ones (zero: turns in arrival order).
    pub fn new(window: Duration) -> Self {
        Sequencer {
            window,
            peers: Mutex::new(HashMap::new()),
        }
    }

    fn peer(&self, ip: IpAddr) -> Arc<Peer> {
        let mut peers = lock(&self.peers);
        if peers.len() >= MAX_PEERS && !peers.contains_key(&ip) {
            peers.retain(|_, p| Arc::strong_count(p) > 1);
        }
        peers.entry(ip).or_default().clone()
    }

    /// Waits for the turn of a batch from `peer` whose first event was read at `stamp`.
    pub async fn turn(&self, peer: IpAddr, stamp: Option<Stamp>) -> Turn {
        let peer = self.peer(peer);
        let arrival = Instant::now();
        let place = {
            let mut st = lock(&peer.state);
            let place = (stamp, st.next_ticket);
            st.next_ticket += 1;
            st.waiting.insert(place, arrival);
            place
        };
        let waiting = Waiting {
            peer: peer.clone(),
            place,
        };
        let due = if stamp.is_some() {
            arrival + self.window
        } else {
            arrival
        };
        loop {
            let notified = peer.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wait_until = {
                let mut st = lock(&peer.state);
                let first = st.waiting.keys().next().copied();
                if first != Some(place) || st.busy {
                    None
                } else if Instant::now() < due {
                    Some(due)
                } else {
                    st.waiting.remove(&place);
                    st.busy = true;
                    if let Some(s) = stamp {
                        match st.released {
                            Some(r) if s < r => late(st.released_at.map(|t| t.elapsed())),
                            _ => {
                                st.released = Some(s);
                                st.released_at = Some(Instant::now());
                            }
                        }
                    }
                    break;
                }
            };
            match wait_until {
                Some(t) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(t) => {}
                    }
                }
                None => notified.await,
            }
        }
        drop(waiting); // already out of the queue: nothing to undo
        Turn { peer }
    }
}

/// A batch enriched after a later one of the same host.
fn late(after: Option<Duration>) {
    METRICS.relay_late_batches.inc();
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| {
        tracing::warn!(
            late_by = ?after,
            "a batch arrived after a later batch of the same host was enriched: sessions spanning \
             them may be enriched differently; raise --reorder-window (counted in \
             postfix_enrich_relay_late_batches_total, logged once)"
        );
    });
    tracing::debug!(late_by = ?after, "late batch");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const PEER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// Batches arriving out of order within the window take their turns in stamp order.
    #[tokio::test(start_paused = true)]
    async fn later_batch_waits_for_an_earlier_one_within_the_window() {
        let seq = Arc::new(Sequencer::new(Duration::from_millis(50)));
        let order = Arc::new(Mutex::new(Vec::new()));
        let run = |stamp: i64, delay: u64| {
            let (seq, order) = (seq.clone(), order.clone());
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(delay)).await;
                let _turn = seq.turn(PEER, Some((stamp, 0))).await;
                lock(&order).push(stamp);
            })
        };
        let tasks = [run(3, 0), run(2, 10), run(1, 20)];
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*lock(&order), vec![1, 2, 3]);
    }

    /// A turn is exclusive: the next batch starts only when the previous turn ends.
    #[tokio::test(start_paused = true)]
    async fn one_turn_at_a_time() {
        let seq = Arc::new(Sequencer::new(Duration::ZERO));
        let inside = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (seq, inside) = (seq.clone(), inside.clone());
                tokio::spawn(async move {
                    let _turn = seq.turn(PEER, Some((i, 0))).await;
                    assert_eq!(inside.fetch_add(1, Ordering::SeqCst), 0);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    }

    /// A call cancelled while waiting does not hold up the batches behind it.
    #[tokio::test(start_paused = true)]
    async fn a_cancelled_wait_leaves_the_queue() {
        let seq = Arc::new(Sequencer::new(Duration::from_millis(50)));
        let first = {
            let seq = seq.clone();
            tokio::spawn(async move {
                let _turn = seq.turn(PEER, Some((1, 0))).await;
            })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        first.abort();
        let second = tokio::time::timeout(Duration::from_secs(1), seq.turn(PEER, Some((2, 0)))).await;
        assert!(second.is_ok(), "the second batch got its turn");
    }

    /// A batch beyond the window is enriched late and counted as such.
    #[tokio::test(start_paused = true)]
    async fn beyond_the_window_is_counted_late() {
        let seq = Sequencer::new(Duration::from_millis(5));
        let before = METRICS.relay_late_batches.get();
        drop(seq.turn(PEER, Some((10, 0))).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(seq.turn(PEER, Some((9, 0))).await);
        assert!(METRICS.relay_late_batches.get() > before);
    }
}
