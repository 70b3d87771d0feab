//! Input for the CLI: files (plain or gzip, detected by magic bytes) or
//! stdin, read as bytes line by line into one reused buffer, and `--follow`
//! for a growing file that survives rotation and truncation.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, Result};

/// An opened input.
pub struct Input {
    /// Name for messages.
    pub name: String,
    /// Size in bytes, when known (for the progress bar).
    pub size: Option<u64>,
    reader: Box<dyn BufRead + Send>,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

impl Input {
    /// Opens a file (`-` is stdin); gzip is detected from the first bytes.
    pub fn open(path: &Path) -> Result<Input> {
        if path == Path::new("-") {
            return Ok(Input::from_reader("<stdin>".into(), None, Box::new(io::stdin())));
        }
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let meta = file
            .metadata()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if meta.is_dir() {
            anyhow::bail!("cannot read {}: is a directory", path.display());
        }
        Ok(Input::from_reader(
            path.display().to_string(),
            Some(meta.len()),
            Box::new(file),
        ))
    }

    /// Wraps any reader, decompressing gzip transparently.
    pub fn from_reader(name: String, size: Option<u64>, raw: Box<dyn Read + Send>) -> Input {
        let mut buffered = BufReader::with_capacity(256 * 1024, raw);
        let is_gzip = buffered.fill_buf().map(|b| b.starts_with(&GZIP_MAGIC)).unwrap_or(false);
        let reader: Box<dyn BufRead + Send> = if is_gzip {
            Box::new(BufReader::with_capacity(
                256 * 1024,
                flate2::bufread::MultiGzDecoder::new(buffered),
            ))
        } else {
            Box::new(buffered)
        };
        Input { name, size, reader }
    }

    /// Reads the next line (with its newline, if any) into `buf`; `Ok(0)` at the end.
    pub fn read_line(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        buf.clear();
        self.reader.read_until(b'\n', buf)
    }
}

/// Opened inputs read one after another, in buffers of whole lines, for
/// [`enrich_on_a_second_thread`](postfix_enrich_core::pipeline::enrich_on_a_second_thread).
pub struct Inputs(std::collections::VecDeque<Input>);

impl Inputs {
    /// The inputs, to be read in this order.
    pub fn new(inputs: Vec<Input>) -> Self {
        Inputs(inputs.into())
    }
}

impl postfix_enrich_core::pipeline::ReadLines for Inputs {
    type Error = anyhow::Error;

    fn read_lines(&mut self, buf: &mut Vec<u8>, min: usize) -> Result<bool> {
        let start = buf.len();
        while buf.len() - start < min {
            let Some(input) = self.0.front_mut() else {
                break;
            };
            let n = input
                .reader
                .read_until(b'\n', buf)
                .with_context(|| format!("reading {}", input.name))?;
            if n == 0 {
                self.0.pop_front();
            } else if !buf.ends_with(b"\n") {
                // A file's last line without its newline stays a line of
                // its own, not the start of the next file's first.
                buf.push(b'\n');
            }
        }
        Ok(buf.len() > start)
    }
}

/// Follows a file like `tail -F`: yields complete lines as they are written,
/// reopening the path when it is rotated (new inode) or truncated.
pub struct Follower {
    path: PathBuf,
    file: BufReader<File>,
    identity: (u64, u64),
    position: u64,
    partial: Vec<u8>,
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

impl Follower {
    /// Starts following `path` from its current end (`from_start` reads it whole first).
    pub fn open(path: &Path, from_start: bool) -> Result<Follower> {
        let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let meta = file.metadata()?;
        let position = if from_start { 0 } else { file.seek(SeekFrom::End(0))? };
        Ok(Follower {
            path: path.to_owned(),
            file: BufReader::new(file),
            identity: identity(&meta),
            position,
            partial: Vec::new(),
        })
    }

    /// Blocks until a complete line is available and puts it in `buf`.
    /// Returns `false` when `stop` says to end.
    pub fn next_line(&mut self, buf: &mut Vec<u8>, stop: &dyn Fn() -> bool) -> Result<bool> {
        loop {
            let n = self.file.read_until(b'\n', &mut self.partial)?;
            self.position += n as u64;
            if self.partial.ends_with(b"\n") {
                buf.clear();
                buf.append(&mut self.partial);
                return Ok(true);
            }
            if n > 0 {
                continue;
            }
            if stop() {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(200));
            if self.check_rotation()? && !self.partial.is_empty() {
                // The old file ended without a newline: that was still a line.
                buf.clear();
                buf.append(&mut self.partial);
                return Ok(true);
            }
        }
    }

    /// Reopens the path if it was rotated or truncated; `true` when it switched.
    fn check_rotation(&mut self) -> Result<bool> {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Ok(false);
        };
        let rotated = identity(&meta) != self.identity;
        let truncated = meta.len() < self.position;
        if rotated || truncated {
            // Finish what the old file still holds before switching.
            let n = self.file.read_until(b'\n', &mut self.partial)?;
            if n > 0 {
                return Ok(false);
            }
            let file = File::open(&self.path)?;
            self.identity = identity(&file.metadata()?);
            self.file = BufReader::new(file);
            self.position = 0;
            return Ok(true);
        }
        Ok(false)
    }
}
