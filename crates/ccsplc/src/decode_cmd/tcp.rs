//! TCP reassembly for one direction of a connection: bytes in sequence order, once, however
//! the capture split, coalesced, repeated or reordered the segments (RFC 9293 §3.4, §3.10.7.4
//! for what a receiver accepts).

use std::collections::BTreeMap;

/// Out-of-order segments held back at most; more means a gap that will not fill (a segment the
/// capture never saw), and the stream skips over it.
const MAX_PENDING_SEGMENTS: usize = 32;
/// Bytes held back at most.
const MAX_PENDING_BYTES: usize = 256 * 1024;

/// What [`Stream::segment`] produced.
#[derive(Debug, Default, Eq, PartialEq)]
pub(crate) struct Delivery {
    /// In-order bytes, ready for the V2GTP deframer.
    pub(crate) data: Vec<u8>,
    /// Bytes of the segment that had been delivered before (retransmissions, overlaps).
    pub(crate) duplicate: usize,
    /// Bytes never seen that the stream skipped to move on (a segment missing from the
    /// capture); the deframer must be reset.
    pub(crate) skipped: u64,
}

/// One direction of a TCP connection.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    /// The sequence number of the next byte expected; `None` before the first segment.
    next: Option<u32>,
    /// Segments ahead of `next`, by sequence number.
    pending: BTreeMap<u32, Vec<u8>>,
    pending_bytes: usize,
}

/// `a - b` in sequence space (RFC 9293 §3.4: comparisons are modulo 2^32).
fn seq_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl Stream {
    /// A SYN: the first data byte is `isn + 1`.
    pub(crate) fn syn(&mut self, isn: u32) {
        self.next = Some(isn.wrapping_add(1));
        self.pending.clear();
        self.pending_bytes = 0;
    }

    /// A segment with `seq` and `payload`.
    pub(crate) fn segment(&mut self, seq: u32, payload: &[u8]) -> Delivery {
        let mut out = Delivery::default();
        if payload.is_empty() {
            return out;
        }
        // The capture started inside the connection: take the first segment as the start.
        let next = *self.next.get_or_insert(seq);
        let ahead = seq_diff(seq, next);
        if ahead > 0 {
            self.hold(seq, payload);
        } else {
            let skip = usize::try_from(-ahead).unwrap_or(usize::MAX);
            if skip >= payload.len() {
                out.duplicate = payload.len();
                return out;
            }
            out.duplicate = skip;
            self.deliver(&payload[skip..], &mut out);
        }
        self.drain(&mut out);
        if self.pending.len() > MAX_PENDING_SEGMENTS || self.pending_bytes > MAX_PENDING_BYTES {
            self.skip_gap(&mut out);
        }
        out
    }

    fn hold(&mut self, seq: u32, payload: &[u8]) {
        let slot = self.pending.entry(seq).or_default();
        if payload.len() > slot.len() {
            self.pending_bytes += payload.len() - slot.len();
            *slot = payload.to_vec();
        }
    }

    fn deliver(&mut self, bytes: &[u8], out: &mut Delivery) {
        out.data.extend_from_slice(bytes);
        let n = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.next = self.next.map(|next| next.wrapping_add(n));
    }

    /// Delivers held segments that are now in order (or overlap what was delivered).
    fn drain(&mut self, out: &mut Delivery) {
        while let Some(next) = self.next {
            let Some(seq) = self.earliest() else {
                return;
            };
            let ahead = seq_diff(seq, next);
            if ahead > 0 {
                return;
            }
            let Some(payload) = self.pending.remove(&seq) else {
                return;
            };
            self.pending_bytes = self.pending_bytes.saturating_sub(payload.len());
            let skip = usize::try_from(-ahead).unwrap_or(usize::MAX);
            if skip < payload.len() {
                out.duplicate += skip;
                self.deliver(&payload[skip..], out);
            } else {
                out.duplicate += payload.len();
            }
        }
    }

    /// The held segment closest ahead of `next` (in sequence space, not numerically).
    fn earliest(&self) -> Option<u32> {
        let next = self.next?;
        self.pending
            .keys()
            .copied()
            .min_by_key(|&seq| seq_diff(seq, next))
    }

    /// Gives up on the missing bytes before the earliest held segment.
    fn skip_gap(&mut self, out: &mut Delivery) {
        let (Some(next), Some(seq)) = (self.next, self.earliest()) else {
            return;
        };
        let gap = seq_diff(seq, next).max(0);
        out.skipped += u64::try_from(gap).unwrap_or(0);
        self.next = Some(seq);
        self.drain(out);
    }

    /// At the end of the capture or on FIN/RST: bytes still held back behind a gap.
    pub(crate) fn flush_gap(&mut self) -> Delivery {
        let mut out = Delivery::default();
        while !self.pending.is_empty() {
            self.skip_gap(&mut out);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(s: &mut Stream, segs: &[(u32, &[u8])]) -> (Vec<u8>, usize) {
        let mut data = Vec::new();
        let mut dup = 0;
        for (seq, p) in segs {
            let d = s.segment(*seq, p);
            data.extend(d.data);
            dup += d.duplicate;
        }
        (data, dup)
    }

    #[test]
    fn in_order_split_and_retransmitted() {
        let mut s = Stream::default();
        s.syn(99);
        let (data, dup) = feed(
            &mut s,
            &[(100, b"abc"), (103, b"de"), (100, b"abc"), (105, b"f")],
        );
        assert_eq!(data, b"abcdef");
        assert_eq!(dup, 3);
    }

    #[test]
    fn out_of_order_and_overlapping() {
        let mut s = Stream::default();
        s.syn(0);
        let (data, dup) = feed(&mut s, &[(4, b"def"), (1, b"abc"), (3, b"cdefg")]);
        assert_eq!(data, b"abcdefg");
        assert_eq!(dup, 4);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut s = Stream::default();
        s.syn(u32::MAX - 1);
        let (data, _) = feed(&mut s, &[(u32::MAX, b"ab"), (1, b"cd")]);
        assert_eq!(data, b"abcd");
    }

    #[test]
    fn a_gap_that_never_fills_is_skipped() {
        let mut s = Stream::default();
        s.syn(0);
        let mut skipped = 0;
        let mut data = Vec::new();
        let d = s.segment(1, b"ab");
        data.extend(d.data);
        // 3..13 is missing; then 40 small segments follow.
        for i in 0..40u32 {
            let d = s.segment(13 + i, b"x");
            skipped += d.skipped;
            data.extend(d.data);
        }
        assert_eq!(skipped, 10);
        assert_eq!(data.len(), 2 + 40);
        let mut s = Stream::default();
        s.syn(0);
        s.segment(5, b"late");
        let d = s.flush_gap();
        assert_eq!((d.data.as_slice(), d.skipped), (&b"late"[..], 4));
    }

    #[test]
    fn capture_starting_mid_stream() {
        let mut s = Stream::default();
        let (data, _) = feed(&mut s, &[(5000, b"xy"), (5002, b"z")]);
        assert_eq!(data, b"xyz");
    }
}

#[cfg(test)]
mod shuffled {
    use super::*;

    /// xorshift64: deterministic test randomness without a dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Any cutting of a stream into segments, with repeats and local reordering (as a capture
    /// shows them), gives back exactly the stream.
    #[test]
    fn any_split_repeat_and_reorder_gives_the_stream_back() {
        for seed in 1..300u64 {
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let stream: Vec<u8> = (0..rng.below(2000) + 1).map(|_| rng.next() as u8).collect();
            let isn = rng.next() as u32;
            let mut segments = Vec::new();
            let mut at = 0;
            while at < stream.len() {
                let len = (rng.below(300) + 1).min(stream.len() - at);
                segments.push((isn.wrapping_add(1).wrapping_add(at as u32), at, len));
                at += len;
            }
            // Repeats of earlier segments (retransmissions), overlapping repeats, and swaps of
            // neighbours (reordering), a few of each.
            let mut sent = Vec::new();
            for (i, seg) in segments.iter().enumerate() {
                sent.push(*seg);
                if rng.below(5) == 0 {
                    sent.push(segments[rng.below(i + 1)]);
                }
            }
            for _ in 0..rng.below(6) {
                let i = rng.below(sent.len());
                if i + 1 < sent.len() {
                    sent.swap(i, i + 1);
                }
            }
            let mut s = Stream::default();
            s.syn(isn);
            let mut out = Vec::new();
            for (seq, from, len) in sent {
                let d = s.segment(seq, &stream[from..from + len]);
                assert_eq!(d.skipped, 0, "seed {seed}");
                out.extend(d.data);
            }
            assert_eq!(out, stream, "seed {seed}");
        }
    }
}
