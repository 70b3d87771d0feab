//! A hash map with a hard cap and a time-to-live, where every eviction is
//! counted. Keys are 64-bit hashes (computed once per line from borrowed
//! strings) so lookups allocate nothing. Ageing is by log time, not wall
//! time, so replays behave like the live run.

use std::collections::{HashMap, VecDeque};

/// The hasher of the maps that every line or session looks up. std's
/// SipHash resists hash flooding at a cost that showed in profiles (a tenth
/// of the report's time on a large input); foldhash is seeded per process
/// too, so keys an attacker picks (client addresses, ids hashed with the
/// unseeded xxh3) still spread, at a fraction of the cost.
pub(crate) type FastHash = foldhash::fast::RandomState;

struct Entry<V> {
    value: V,
    generation: u64,
    last_seen: i64,
}

/// Counters of a bounded map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct MapStats {
    /// Live entries.
    pub live: usize,
    /// Entries pushed out because the map was full.
    pub evicted: u64,
    /// Entries dropped because they were idle longer than the TTL.
    pub expired: u64,
}

/// A capped, TTL-bounded map from hashed keys to values.
pub struct BoundedMap<V> {
    map: HashMap<u64, Entry<V>, FastHash>,
    /// Insertion order, for eviction. Entries whose generation no longer
    /// matches the map are stale and skipped.
    order: VecDeque<(u64, u64)>,
    cap: usize,
    ttl: i64,
    next_generation: u64,
    evicted: u64,
    expired: u64,
}

impl<V> BoundedMap<V> {
    /// A map holding at most `cap` entries, each dropped after `ttl` seconds idle.
    pub fn new(cap: usize, ttl_seconds: i64) -> Self {
        BoundedMap {
            map: HashMap::default(),
            order: VecDeque::new(),
            cap: cap.max(1),
            ttl: ttl_seconds.max(1),
            next_generation: 0,
            evicted: 0,
            expired: 0,
        }
    }

    /// The value for `key`, marking it seen at `now`.
    pub fn get_mut(&mut self, key: u64, now: i64) -> Option<&mut V> {
        let e = self.map.get_mut(&key)?;
        e.last_seen = e.last_seen.max(now);
        Some(&mut e.value)
    }

    /// The value for `key`, inserting `make()` first when there is none
    /// (evicting as [`BoundedMap::insert`] does), marked seen at `now`.
    pub fn get_or_insert_with(&mut self, key: u64, now: i64, make: impl FnOnce() -> V) -> &mut V {
        if !self.map.contains_key(&key) {
            self.insert(key, make(), now);
        }
        // insert evicts the oldest entries first, never the one it added.
        let e = self.map.get_mut(&key).expect("the entry was just inserted");
        e.last_seen = e.last_seen.max(now);
        &mut e.value
    }

    /// The value for `key` without touching it.
    pub fn get(&self, key: u64) -> Option<&V> {
        self.map.get(&key).map(|e| &e.value)
    }

    /// Removes and returns the value for `key`.
    pub fn remove(&mut self, key: u64) -> Option<V> {
        self.map.remove(&key).map(|e| e.value)
    }

    /// Inserts (or replaces) `key`, evicting idle and then oldest entries to stay within the cap.
    /// Returns the value it replaced, if any.
    pub fn insert(&mut self, key: u64, value: V, now: i64) -> Option<V> {
        self.expire(now);
        let generation = self.next_generation;
        self.next_generation += 1;
        let old = self
            .map
            .insert(
                key,
                Entry {
                    value,
                    generation,
                    last_seen: now,
                },
            )
            .map(|e| e.value);
        self.order.push_back((key, generation));
        while self.map.len() > self.cap {
            let Some((k, g)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&k).is_some_and(|e| e.generation == g) {
                self.map.remove(&k);
                self.evicted += 1;
            }
        }
        // Drop stale order entries so the queue stays proportional to the map.
        if self.order.len() > 2 * self.cap + 64 {
            let map = &self.map;
            self.order
                .retain(|(k, g)| map.get(k).is_some_and(|e| e.generation == *g));
        }
        old
    }

    /// Drops entries idle for longer than the TTL (oldest insertions first).
    fn expire(&mut self, now: i64) {
        while let Some(&(k, g)) = self.order.front() {
            let Some(e) = self.map.get(&k) else {
                self.order.pop_front();
                continue;
            };
            if e.generation != g {
                self.order.pop_front();
                continue;
            }
            if e.last_seen + self.ttl >= now {
                break;
            }
            self.order.pop_front();
            self.map.remove(&k);
            self.expired += 1;
        }
    }

    /// Live entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Counters.
    pub fn stats(&self) -> MapStats {
        MapStats {
            live: self.map.len(),
            evicted: self.evicted,
            expired: self.expired,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_evicts_oldest_and_counts() {
        let mut m = BoundedMap::new(3, 1000);
        for k in 0..10u64 {
            m.insert(k, k, 0);
            assert!(m.len() <= 3);
        }
        assert_eq!(
            m.stats(),
            MapStats {
                live: 3,
                evicted: 7,
                expired: 0
            }
        );
        assert!(m.get(9).is_some() && m.get(0).is_none());
    }

    #[test]
    fn ttl_expires_idle_entries_only() {
        let mut m = BoundedMap::new(100, 10);
        m.insert(1, "a", 0);
        m.insert(2, "b", 0);
        m.get_mut(1, 8);
        m.insert(3, "c", 15);
        // Entry 1 was seen at 8, so at 15 it is still within its TTL; the expiry
        // scan stops at the first live entry, and 2 is behind it until 1 goes.
        assert!(m.get(1).is_some());
        m.insert(4, "d", 30);
        assert!(m.get(1).is_none() && m.get(2).is_none() && m.get(3).is_none());
        assert_eq!(m.stats().expired, 3);
        assert!(m.get(4).is_some());
    }

    #[test]
    fn get_or_insert_with_makes_a_value_only_when_there_is_none() {
        let mut m = BoundedMap::new(2, 1000);
        *m.get_or_insert_with(1, 0, || 10) += 1;
        *m.get_or_insert_with(1, 5, || 100) += 1;
        assert_eq!(m.get(1), Some(&12));
        // At the cap, the new key pushes out the oldest, not itself.
        m.get_or_insert_with(2, 6, || 20);
        assert_eq!(*m.get_or_insert_with(3, 7, || 30), 30);
        assert!(m.get(1).is_none() && m.get(2) == Some(&20));
        assert_eq!(m.stats().evicted, 1);
    }

    #[test]
    fn order_queue_stays_bounded_under_churn() {
        let mut m = BoundedMap::new(4, 1_000_000);
        for k in 0..100_000u64 {
            m.insert(k, (), k as i64);
            m.remove(k);
        }
        assert!(m.order.len() <= 2 * 4 + 65);
    }
}
