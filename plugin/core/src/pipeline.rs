//! Enrichment and what reads its events on two threads: a scoped thread
//! enriches buffers of whole lines while the caller's thread folds the
//! events in order, as a plain loop would, and fills the buffers it has
//! emptied with the next lines (through the caller's [`ReadLines`], so this
//! crate still does no I/O of its own). On one core the two halves of
//! `explain` (enrichment, then the report) run one after the other; on two
//! they overlap.
//!
//! The work is split so that each thread has about half of it. The
//! enriching thread keeps the state (sessions, queue links, windows), so
//! what needs no state moves to the caller's: reading, and since then
//! decoding, cutting and framing each line (`Framed`) with the
//! enricher's own frame options. Counted by callgrind on `report_flood
//! 100000 10000` when the framing moved (`ddcb118`), the enriching thread
//! went from 1,344 M instructions against 820 M for the caller's to
//! 1,079 M against 999 M (the README's benchmark rows carry the current
//! counts). On this machine's two vCPUs the wall clock followed the total
//! more than the larger half (it did not move in ten alternated pairs of
//! `report_flood`, and `explain -q` on a file ran 1.2× faster), as if the
//! two shared a core's resources; on two real cores the larger half is the
//! limit.
//!
//! The events keep borrowing their line: a buffer travels with its frames
//! and then the events made of them ([`self_cell`], because a struct that
//! owns a buffer and borrows from it cannot be written in safe Rust
//! otherwise), and comes back empty to be filled again.
//!
//! Not built for WebAssembly, whose hosts here (a browser, Node, Fluent Bit)
//! give a module one thread.

use std::sync::mpsc::{sync_channel, SyncSender};

use crate::frame::FrameOptions;
use crate::{Enricher, Event, Framed};

/// Bytes of lines per buffer: large enough that handing a buffer over is
/// rare, small enough that the events in flight (over a kilobyte each) stay
/// a few MiB.
const CHUNK_BYTES: usize = 64 * 1024;

/// Buffers in circulation: one being folded and filled again, one being
/// enriched, one waiting (filled or enriched) so that neither thread waits
/// for the other's hand-over. Each channel has room for all of them, so no
/// send ever blocks: a thread only ever waits to receive, and never while
/// the other waits on it.
const BUFFERS: usize = 3;

/// A buffer's lines, framed on the reading thread, and the events made of
/// them on the enriching one.
struct Lines<'a> {
    framed: Vec<Framed<'a>>,
    events: Vec<Event<'a>>,
}

self_cell::self_cell!(
    /// A buffer of lines and what has been made of them so far.
    struct Buffer {
        owner: Vec<u8>,
        #[covariant]
        dependent: Lines,
    }
);

/// Where the lines come from: appends whole lines to the buffer it is given
/// (at least `min` bytes of them, or what is left), and returns `false` once
/// nothing is left.
pub trait ReadLines {
    /// The error a read can end with.
    type Error;
    /// Appends whole lines to `buf` until it holds `min` bytes or the input
    /// ends; `Ok(false)` when it added nothing because the input had ended.
    fn read_lines(&mut self, buf: &mut Vec<u8>, min: usize) -> Result<bool, Self::Error>;
}

/// A reader lent, so that the caller keeps it (and what it counted).
impl<R: ReadLines + ?Sized> ReadLines for &mut R {
    type Error = R::Error;
    fn read_lines(&mut self, buf: &mut Vec<u8>, min: usize) -> Result<bool, Self::Error> {
        (**self).read_lines(buf, min)
    }
}

/// Reads every line on this thread, enriches it through `enricher` on a
/// thread of its own and lends the events to `consume` on this one, in the
/// order of the lines (it may take parts out of them: they are dropped
/// after). Stops at the first read error, after the events of the lines
/// before it.
pub fn enrich_on_a_second_thread<R: ReadLines>(
    enricher: &mut Enricher,
    mut input: R,
    mut consume: impl FnMut(&mut Event<'_>),
) -> Result<(), R::Error> {
    let options = enricher.config().frame;
    let (filled_tx, filled_rx) = sync_channel::<Buffer>(BUFFERS);
    let (full_tx, full_rx) = sync_channel::<Buffer>(BUFFERS);
    std::thread::scope(|scope| {
        let enriching = scope.spawn(move || {
            for mut buffer in filled_rx {
                buffer.with_dependent_mut(|_, lines| {
                    lines.events.reserve(lines.framed.len());
                    for line in lines.framed.drain(..) {
                        enricher.enrich_framed_onto(line, &mut lines.events);
                    }
                });
                if full_tx.send(buffer).is_err() {
                    // The caller's thread has gone (it panicked): nothing to do.
                    return;
                }
            }
        });
        let mut reading = Reading {
            input: &mut input,
            options,
            to_enrich: Some(filled_tx),
            result: Ok(()),
        };
        let mut in_flight = 0;
        for _ in 0..BUFFERS {
            let spare = (Vec::with_capacity(CHUNK_BYTES + 4096), Vec::new(), Vec::new());
            in_flight += reading.fill(spare);
        }
        while in_flight > 0 {
            let Ok(mut buffer) = full_rx.recv() else {
                break; // The enriching thread panicked: joined below.
            };
            in_flight -= 1;
            let (framed, events) = buffer.with_dependent_mut(|_, lines| {
                // Each lent where it lies and dropped right after, while it
                // is still in this core's cache: `retain_mut` that keeps
                // none is the one safe way to do both in one pass. Moving
                // each event out first (`drain`) copied its 1,200 bytes,
                // and lending them all before clearing the vector fetched
                // them into the cache twice (callgrind, perf).
                lines.events.retain_mut(|ev| {
                    consume(ev);
                    false
                });
                (
                    emptied(std::mem::take(&mut lines.framed)),
                    emptied(std::mem::take(&mut lines.events)),
                )
            });
            let mut buf = buffer.into_owner();
            buf.clear();
            in_flight += reading.fill((buf, framed, events));
        }
        let result = reading.result;
        drop(reading.to_enrich);
        enriching
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        result
    })
}

/// The caller's side of the reading: where lines come from, how to frame
/// them, and where framed buffers go.
struct Reading<'r, R: ReadLines> {
    input: &'r mut R,
    options: FrameOptions,
    /// `None` once the input has ended or failed: the sender dropped, the
    /// enriching thread ends after the buffers it was sent.
    to_enrich: Option<SyncSender<Buffer>>,
    /// The read error, if any; nothing is read after it.
    result: Result<(), R::Error>,
}

impl<R: ReadLines> Reading<'_, R> {
    /// Fills an emptied buffer with the next lines, frames them and sends
    /// them to be enriched: 1 when they went, 0 when the input had ended or
    /// failed.
    ///
    /// The framing is done here because it needs no state: the enriching
    /// thread was the one that limited `explain` (busy 86–93% of each
    /// second against 68–88% for this one), and decoding, cutting and
    /// framing the lines were about a fifth of its instructions.
    fn fill(&mut self, (mut buf, framed, events): Spare) -> usize {
        let Some(sender) = &self.to_enrich else {
            return 0;
        };
        match self.input.read_lines(&mut buf, CHUNK_BYTES) {
            Ok(true) => {
                let options = &self.options;
                let buffer = Buffer::new(buf, |text| {
                    // Made to borrow this buffer (the vectors are covariant).
                    let (mut framed, events): (Vec<Framed<'_>>, Vec<Event<'_>>) = (framed, events);
                    // Line ends found by memchr: `split_inclusive` with a
                    // byte predicate looks at every byte, and that was 8%
                    // of the enriching thread's instructions (callgrind).
                    let mut start = 0;
                    let ends = memchr::memchr_iter(b'\n', text).map(|i| i + 1);
                    for end in ends.chain(std::iter::once(text.len())) {
                        if end > start {
                            framed.push(Framed::new(&text[start..end], options));
                        }
                        start = end;
                    }
                    Lines { framed, events }
                });
                if sender.send(buffer).is_ok() {
                    return 1;
                }
                self.to_enrich = None;
                0
            }
            Ok(false) => {
                self.to_enrich = None;
                0
            }
            Err(e) => {
                self.result = Err(e);
                self.to_enrich = None;
                0
            }
        }
    }
}

/// A buffer and the vectors of its frames and events, emptied, on their
/// way to be filled again. Reusing the vectors (hundreds of kilobytes of
/// events per buffer) spares the threads growing new ones for every
/// buffer: the event vector's reallocations and their copies were about
/// 3% of the enriching thread's perf samples and 2.3% of `report_flood`'s
/// instructions (callgrind).
type Spare = (Vec<u8>, Vec<Framed<'static>>, Vec<Event<'static>>);

/// A vector emptied and no longer tied to the buffer it borrowed from, so
/// that the next buffer's items can fill its allocation.
fn emptied<T, U>(mut items: Vec<T>) -> Vec<U> {
    items.clear();
    // An empty vector collected into a type of the same size and alignment
    // (the same type with another lifetime) keeps its allocation (std
    // collects such iterators in place), which changes the lifetime without
    // unsafe code. Were it ever not kept, the cost would only be a new
    // allocation.
    items.into_iter().map(|_| unreachable!("the vector is empty")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    /// Lines from a slice.
    impl ReadLines for std::io::Cursor<&[u8]> {
        type Error = std::convert::Infallible;

        fn read_lines(&mut self, buf: &mut Vec<u8>, min: usize) -> Result<bool, Self::Error> {
            let all = *self.get_ref();
            let start = (self.position() as usize).min(all.len());
            let rest = &all[start..];
            if rest.is_empty() {
                return Ok(false);
            }
            // Up to the first newline at or after `min` bytes, or everything.
            let from = min.min(rest.len());
            let end = memchr::memchr(b'\n', &rest[from..]).map_or(rest.len(), |i| from + i + 1);
            buf.extend_from_slice(&rest[..end]);
            self.set_position((start + end) as u64);
            Ok(true)
        }
    }

    /// Lines that make sessions, so a context that saw them out of order or
    /// twice would give other ids and verdicts.
    fn lines(n: usize) -> String {
        (0..n)
            .map(|i| {
                let pid = 100 + i % 7;
                if i % 2 == 0 {
                    format!("Jun 19 16:27:21 mx postfix/smtpd[{pid}]: connect from unknown[192.0.2.{}]\n", i % 250)
                } else {
                    format!(
                        "Jun 19 16:27:22 mx postfix/smtpd[{pid}]: disconnect from unknown[192.0.2.{}] ehlo=1 quit=1 commands=2\n",
                        (i - 1) % 250
                    )
                }
            })
            .collect()
    }

    fn one_thread(text: &str) -> Vec<String> {
        one_thread_with(text, Config::default())
    }

    fn one_thread_with(text: &str, config: Config) -> Vec<String> {
        let mut enricher = Enricher::new(config);
        text.split_inclusive('\n')
            .map(|l| crate::encode::to_json_string(&enricher.enrich(l.as_bytes())))
            .collect()
    }

    #[test]
    fn two_threads_give_the_events_one_thread_gives_in_its_order() {
        // Several buffers' worth, and a last line without its newline.
        let mut text = lines(5_000);
        text.push_str("Jun 19 16:27:23 mx postfix/smtpd[101]: lost connection after EHLO from unknown[192.0.2.1]");
        assert!(text.len() > 3 * CHUNK_BYTES);
        let mut enricher = Enricher::new(Config::default());
        let mut got = Vec::new();
        let read = enrich_on_a_second_thread(&mut enricher, std::io::Cursor::new(text.as_bytes()), |ev| {
            got.push(crate::encode::to_json_string(ev))
        });
        assert!(read.is_ok());
        assert_eq!(got.len(), 5_001);
        assert_eq!(got, one_thread(&text));
    }

    /// The lines are framed on the reading thread, away from the enricher:
    /// with the enricher's own year and zone for stamps that lack them.
    #[test]
    fn lines_are_framed_with_the_enrichers_options() {
        let config = || Config {
            frame: FrameOptions {
                years: crate::YearPolicy::Fixed(2031),
                offset_minutes: 150,
            },
            ..Config::default()
        };
        let text = lines(300);
        let mut enricher = Enricher::new(config());
        let mut got = Vec::new();
        let read = enrich_on_a_second_thread(&mut enricher, std::io::Cursor::new(text.as_bytes()), |ev| {
            got.push(crate::encode::to_json_string(ev))
        });
        assert!(read.is_ok());
        assert!(got[0].contains("\"2031-06-19T16:27:21+02:30\""), "{}", got[0]);
        assert_eq!(got, one_thread_with(&text, config()));
        assert_ne!(got, one_thread(&text));
    }

    #[test]
    fn a_read_error_ends_it_after_the_lines_before() {
        struct FailsSecond(u32, String);
        impl ReadLines for FailsSecond {
            type Error = String;
            fn read_lines(&mut self, buf: &mut Vec<u8>, _: usize) -> Result<bool, String> {
                self.0 += 1;
                match self.0 {
                    1 => {
                        buf.extend_from_slice(self.1.as_bytes());
                        Ok(true)
                    }
                    _ => Err("disk on fire".to_owned()),
                }
            }
        }
        let mut enricher = Enricher::new(Config::default());
        let mut seen = 0;
        let read = enrich_on_a_second_thread(&mut enricher, FailsSecond(0, lines(10)), |_| seen += 1);
        assert_eq!(read, Err("disk on fire".to_owned()));
        assert_eq!(seen, 10);
    }

    #[test]
    fn lines_are_read_on_the_callers_thread() {
        // The reading is the report thread's to do: it has the time the
        // enriching thread lacks. Read in small pieces, so that there are
        // many reads while both threads run.
        struct Records<'a>(std::io::Cursor<&'a [u8]>, Vec<std::thread::ThreadId>);
        impl ReadLines for Records<'_> {
            type Error = std::convert::Infallible;
            fn read_lines(&mut self, buf: &mut Vec<u8>, _: usize) -> Result<bool, Self::Error> {
                self.1.push(std::thread::current().id());
                self.0.read_lines(buf, 100)
            }
        }
        let text = lines(2_000);
        let mut input = Records(std::io::Cursor::new(text.as_bytes()), Vec::new());
        let mut enricher = Enricher::new(Config::default());
        let mut seen = 0;
        let read = enrich_on_a_second_thread(&mut enricher, &mut input, |_| seen += 1);
        assert!(read.is_ok());
        assert_eq!(seen, 2_000);
        assert!(input.1.len() > 100);
        let caller = std::thread::current().id();
        assert!(input.1.iter().all(|id| *id == caller));
    }

    #[test]
    fn a_slice_is_cut_after_whole_lines() {
        let text = b"one\ntwo\nthree";
        let mut input = std::io::Cursor::new(&text[..]);
        let mut buf = Vec::new();
        assert_eq!(input.read_lines(&mut buf, 5), Ok(true));
        assert_eq!(buf, b"one\ntwo\n");
        buf.clear();
        assert_eq!(input.read_lines(&mut buf, 5), Ok(true));
        assert_eq!(buf, b"three");
        buf.clear();
        assert_eq!(input.read_lines(&mut buf, 5), Ok(false));
        assert!(buf.is_empty());
    }

    #[test]
    fn an_emptied_event_vector_keeps_its_allocation() {
        let text = lines(50);
        let mut enricher = Enricher::new(Config::default());
        let events: Vec<Event<'_>> = text.lines().map(|l| enricher.enrich(l.as_bytes())).collect();
        let (ptr, capacity) = (events.as_ptr() as usize, events.capacity());
        let spare: Vec<Event<'static>> = emptied(events);
        assert!(spare.is_empty());
        assert_eq!((spare.as_ptr() as usize, spare.capacity()), (ptr, capacity));
    }
}
