//! Splits delimited text (CSV, JSON Lines) into chunks of whole records, so that several threads
//! can decode one input and still name the line of every record.

use std::io::Read;

/// Bytes a chunk holds at least (unless the input ends first).
pub const CHUNK_BYTES: usize = 4 << 20;
/// Longest record a chunk may have to hold whole.
pub const MAX_RECORD_BYTES: usize = 64 << 20;

/// A run of whole records and the (1-based) line the first one starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub first_line: u64,
    pub bytes: Vec<u8>,
}

/// Cuts `input` after a newline that ends a record: for CSV (`quoted`) one outside double
/// quotes, for JSON Lines any newline (JSON strings cannot hold a raw newline).
pub struct Splitter<R: Read> {
    input: R,
    quoted: bool,
    buffer: Vec<u8>,
    /// Buffers of chunks already decoded, for the next chunks: a new one's pages cost a fault
    /// each and come zeroed by the kernel.
    spare: Vec<Vec<u8>>,
    next_line: u64,
    ended: bool,
}

/// Spare buffers a splitter keeps at most.
const SPARE: usize = 4;

impl<R: Read> Splitter<R> {
    pub fn new(input: R, quoted: bool) -> Self {
        let buffer = Vec::with_capacity(CHUNK_BYTES);
        Self { input, quoted, buffer, spare: Vec::new(), next_line: 1, ended: false }
    }

    /// Takes back the bytes of a chunk that was decoded, to read later chunks into.
    pub fn recycle(&mut self, mut bytes: Vec<u8>) {
        if self.spare.len() < SPARE {
            bytes.clear();
            self.spare.push(bytes);
        }
    }

    /// The first record alone (a CSV header), or `None` for empty input.
    pub fn first_record(&mut self) -> std::io::Result<Option<Chunk>> {
        self.next_with(first_end)
    }

    /// The next chunk of whole records, or `None` at the end of the input.
    pub fn next_chunk(&mut self) -> std::io::Result<Option<Chunk>> {
        self.next_with(last_end)
    }

    fn next_with(&mut self, end: impl Fn(&[u8], bool) -> Option<usize>) -> std::io::Result<Option<Chunk>> {
        let mut want = CHUNK_BYTES;
        let cut = loop {
            self.fill(want)?;
            if self.buffer.is_empty() {
                return Ok(None);
            }
            if let Some(cut) = end(&self.buffer, self.quoted) {
                break cut;
            }
            if self.ended {
                break self.buffer.len();
            }
            if want >= MAX_RECORD_BYTES {
                let line = self.next_line;
                return Err(std::io::Error::other(format!(
                    "a record starting on line {line} is longer than {} MiB",
                    MAX_RECORD_BYTES >> 20
                )));
            }
            want *= 2;
        };
        let mut rest = self.spare.pop().unwrap_or_else(|| Vec::with_capacity(CHUNK_BYTES));
        rest.extend_from_slice(&self.buffer[cut..]);
        self.buffer.truncate(cut);
        let bytes = std::mem::replace(&mut self.buffer, rest);
        let first_line = self.next_line;
        self.next_line += memchr::memchr_iter(b'\n', &bytes).count() as u64;
        Ok(Some(Chunk { first_line, bytes }))
    }

    /// Reads until the buffer holds `want` bytes or the input ends, into the buffer's spare
    /// room as it is (`read_to_end` does not zero it first).
    fn fill(&mut self, want: usize) -> std::io::Result<()> {
        let Some(missing) = want.checked_sub(self.buffer.len()).filter(|n| *n > 0 && !self.ended) else {
            return Ok(());
        };
        self.buffer.reserve(missing);
        let read = (&mut self.input).take(missing as u64).read_to_end(&mut self.buffer)?;
        self.ended = read < missing;
        Ok(())
    }
}

/// Just past the first newline that ends a record.
fn first_end(bytes: &[u8], quoted: bool) -> Option<usize> {
    if !quoted {
        return memchr::memchr(b'\n', bytes).map(|at| at + 1);
    }
    let mut inside = false;
    for at in memchr::memchr2_iter(b'"', b'\n', bytes) {
        match bytes[at] {
            b'"' => inside = !inside,
            _ if !inside => return Some(at + 1),
            _ => {}
        }
    }
    None
}

/// Just past the last newline that ends a record (the buffer starts at a record's start).
fn last_end(bytes: &[u8], quoted: bool) -> Option<usize> {
    if !quoted {
        return memchr::memrchr(b'\n', bytes).map(|at| at + 1);
    }
    let mut inside = false;
    let mut last = None;
    for at in memchr::memchr2_iter(b'"', b'\n', bytes) {
        match bytes[at] {
            b'"' => inside = !inside,
            _ if !inside => last = Some(at + 1),
            _ => {}
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every chunk, each read into the buffers of earlier ones (still holding their bytes), as a
    /// batch's decoders give them back.
    fn chunks(input: &[u8], quoted: bool) -> Vec<Chunk> {
        let mut splitter = Splitter::new(input, quoted);
        std::iter::from_fn(|| {
            let chunk = splitter.next_chunk().unwrap()?;
            splitter.recycle(chunk.bytes.clone());
            Some(chunk)
        })
        .collect()
    }

    #[test]
    fn chunks_end_at_record_boundaries_and_count_lines() {
        let csv = b"a,b\n1,\"two\nlines\"\n3,\"x\"\"y\"\n";
        let mut splitter = Splitter::new(&csv[..], true);
        let header = splitter.first_record().unwrap().unwrap();
        assert_eq!((header.first_line, header.bytes.as_slice()), (1, &b"a,b\n"[..]));
        let rest = splitter.next_chunk().unwrap().unwrap();
        assert_eq!(rest.first_line, 2);
        assert_eq!(rest.bytes, b"1,\"two\nlines\"\n3,\"x\"\"y\"\n");
        assert!(splitter.next_chunk().unwrap().is_none());

        assert_eq!(last_end(b"1,\"a\nb", true), None, "a newline inside quotes ends nothing");
        assert_eq!(last_end(b"1,\"a\nb\"\n2,\"c\n", true), Some(8));
        assert_eq!(last_end(b"{\"a\": 1}\n{\"b\"", false), Some(9));
        assert_eq!(chunks(b"", true), []);
        assert_eq!(chunks(b"no newline at the end", false)[0].bytes, b"no newline at the end");
    }

    #[test]
    fn large_inputs_split_into_several_chunks_that_rejoin_exactly() {
        let mut input = Vec::new();
        for i in 0..400_000 {
            input.extend_from_slice(format!("{i},\"quoted, with\nnewline {i}\"\n").as_bytes());
        }
        let pieces = chunks(&input, true);
        assert!(pieces.len() > 2, "{} chunks", pieces.len());
        let mut line = 1;
        for piece in &pieces {
            assert_eq!(piece.first_line, line);
            assert!(piece.bytes.ends_with(b"\"\n"), "whole records only");
            line += memchr::memchr_iter(b'\n', &piece.bytes).count() as u64;
        }
        let rejoined: Vec<u8> = pieces.iter().flat_map(|c| c.bytes.iter().copied()).collect();
        assert_eq!(rejoined, input);
    }
}
