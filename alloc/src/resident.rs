//! What the OS and glibc say is resident in this process, read without allocating.
//!
//! These are the raw readings behind `ultra_core::explain` (which does the arithmetic that
//! splits RSS into owners). Everything here is Linux-specific and answers `None` elsewhere;
//! nothing here allocates through the global allocator (every file is read into a buffer on the
//! stack), so a reading does not disturb the tracking allocator's counters.
//!
//! - [`status`]: `/proc/self/status` — `VmRSS` and its exact parts `RssAnon`, `RssFile`,
//!   `RssShmem` (the kernel computes `VmRSS` as their sum), `VmHWM`, `VmSize`. O(1) for the
//!   kernel: these are counters, no page-table walk (unlike `smaps` or `smaps_rollup`, which
//!   walk every resident page: ~1 ms per 100 MB).
//! - [`mappings`]: one pass over `/proc/self/maps` plus `/proc/self/pagemap` for the few ranges
//!   that matter: the resident bytes of **thread stacks** and of the file-backed pages of **one
//!   module** (the mappings of the shared object that contains a given address, e.g. the Node
//!   addon's own code).
//! - [`malloc_info`]: glibc's `mallinfo2()` (resolved at run time, so the library still loads on
//!   glibc < 2.33, where it answers `None`); [`malloc_trim`]: glibc's `malloc_trim(0)`.
//!
//! # How thread stacks are found, and the limits of it
//!
//! Since Linux 4.5 `maps` labels only the main thread's stack (`[stack]`); a pthread stack is an
//! unlabelled anonymous mapping. So each thread's stack pointer is read from
//! `/proc/self/task/<tid>/syscall` (its second-to-last field; the kernel fills it for a thread
//! blocked in the kernel, which is where idle threads are, and for the reading thread itself),
//! and the anonymous mapping that contains it is that thread's stack. Its resident bytes are the
//! present, private pages of that mapping according to `pagemap` (bit 63 set, bit 61 clear).
//! Limits: a thread running user code at that instant answers `running` and its stack is not
//! found (counted in [`Stacks::unlocated`], its bytes stay unattributed); a thread whose stack
//! pointer is in memory some allocator handed out (a green-thread stack from `malloc`) would be
//! counted twice, so only mappings with no file behind them that no earlier thread claimed are
//! counted; at most [`MAX_THREADS`] threads are looked at. Guard pages are separate `---p`
//! mappings and never resident.
//!
//! # What `mallinfo2` says, and what it does not
//!
//! Its figures are sizes, not residency: `uordblks` (bytes in use in the arenas) and `hblkhd`
//! (bytes in chunks mmapped on their own) are resident once written — but a `calloc` of a fresh
//! mmapped chunk is never touched by glibc, so a large zero-filled block is counted before its
//! pages are; `fordblks` (free bytes in the arenas) was resident when it was in use and stays so
//! until `malloc_trim` (or the trimming of the arena's top) gives the pages back — after a
//! `malloc_trim(0)` it over-states what is resident. So [`mappings`] also measures the `[heap]`
//! mapping, where glibc's main arena lives (memory from `sbrk`; the main thread's allocations,
//! most of a Node process's): its resident bytes are exact, released pages and never-touched
//! top chunk excluded. The other arenas (64 MiB heaps of other threads) cannot be told from
//! other anonymous mappings; their size is taken as resident.

use std::io::{Read, Write as _};
use std::os::unix::fs::FileExt as _;

/// Threads whose stacks [`mappings`] looks at, at most (the rest are counted as unlocated).
pub const MAX_THREADS: usize = 512;

/// `/proc/self/status`, the memory lines (bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// `VmRSS`: resident set size; equals `anon_bytes + file_bytes + shmem_bytes`.
    pub rss_bytes: u64,
    /// `RssAnon`: resident anonymous pages (heaps, stacks, private copies of file pages).
    pub anon_bytes: u64,
    /// `RssFile`: resident pages of mapped files (executables, shared libraries, data files).
    pub file_bytes: u64,
    /// `RssShmem`: resident shared memory (System V, `memfd`, shared anonymous, tmpfs files).
    pub shmem_bytes: u64,
    /// `VmHWM`: peak resident set size.
    pub rss_peak_bytes: u64,
    /// `VmSize`: virtual memory size.
    pub virtual_bytes: u64,
}

/// Reads `/proc/self/status` into a stack buffer; `None` where it cannot be read (not Linux).
pub fn status() -> Option<Status> {
    let mut buf = [0u8; 8192];
    let len = read_into(
        &mut std::fs::File::open("/proc/self/status").ok()?,
        &mut buf,
    )?;
    let text = std::str::from_utf8(&buf[..len]).ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        let value = line[key.len()..].trim().trim_end_matches("kB").trim();
        value.parse::<u64>().ok().map(|k| k * 1024)
    };
    let rss_bytes = kib("VmRSS:")?;
    let anon_bytes = kib("RssAnon:")?;
    let file_bytes = kib("RssFile:")?;
    let shmem_bytes = kib("RssShmem:")?;
    Some(Status {
        rss_bytes,
        anon_bytes,
        file_bytes,
        shmem_bytes,
        rss_peak_bytes: kib("VmHWM:")?,
        virtual_bytes: kib("VmSize:")?,
    })
}

/// Reads a whole (small) file into `buf`; `None` on an error or if it does not fit.
fn read_into(file: &mut std::fs::File, buf: &mut [u8]) -> Option<usize> {
    let mut len = 0;
    loop {
        if len == buf.len() {
            return None;
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => return Some(len),
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Resident thread stacks, as found by [`mappings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stacks {
    /// Resident bytes of the stacks found.
    pub bytes: u64,
    /// Threads of the process when it was read.
    pub threads: u32,
    /// Threads whose stack could not be located (running user code at that instant, or past
    /// [`MAX_THREADS`]); their stack bytes are not in `bytes`.
    pub unlocated: u32,
}

/// What one pass over the mappings found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mappings {
    /// Thread stacks; `None` if `/proc/self/task` cannot be read.
    pub stacks: Option<Stacks>,
    /// Resident file-backed bytes of the module that contains the address given to
    /// [`mappings`]; `None` if no address was given or no file mapping contains it.
    pub module_file_bytes: Option<u64>,
    /// The `[heap]` mapping (the program break: glibc's main malloc arena): its size and its
    /// resident bytes; `None` if there is none.
    pub brk_heap: Option<BrkHeap>,
}

/// The `[heap]` mapping, where glibc's main arena lives (its memory from `sbrk`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BrkHeap {
    /// Bytes mapped.
    pub size_bytes: u64,
    /// Bytes resident (present private pages in `pagemap`).
    pub resident_bytes: u64,
}

/// Reads thread stacks, the `[heap]` mapping and, if `module_addr` is given, the resident
/// file-backed bytes of the shared object mapped there (all mappings of the same file next to
/// the one holding that address). `None` where `/proc/self/maps` or `/proc/self/pagemap` cannot be read.
pub fn mappings(module_addr: Option<usize>) -> Option<Mappings> {
    let mut sps = [0u64; MAX_THREADS];
    let tasks = stack_pointers(&mut sps);
    let (threads, located) = tasks.unwrap_or((0, 0));
    let sps = &mut sps[..located];
    sps.sort_unstable();
    // The reading thread is in a syscall too, but its own pointer is certain.
    let here = &sps as *const _ as u64;

    let pagemap = std::fs::File::open("/proc/self/pagemap").ok()?;
    let maps = std::fs::File::open("/proc/self/maps").ok()?;
    let mut scan = Scan {
        sps,
        next_sp: 0,
        here,
        here_found: false,
        stack_bytes: 0,
        stacks_found: 0,
        module_addr: module_addr.map(|a| a as u64),
        run: Run::default(),
        module_bytes: None,
        brk_heap: None,
        pagemap: &pagemap,
        page: page_size(),
    };
    for_each_line(maps, |line| scan.line(line))?;
    scan.end_run();
    Some(Mappings {
        stacks: tasks.map(|_| Stacks {
            bytes: scan.stack_bytes,
            threads,
            unlocated: threads.saturating_sub(scan.stacks_found),
        }),
        module_file_bytes: scan.module_bytes,
        brk_heap: scan.brk_heap,
    })
}

/// The page size (4096 where it cannot be asked).
#[allow(unsafe_code)]
fn page_size() -> u64 {
    // SAFETY: `sysconf` reads a configuration value; it has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// Consecutive mappings of one file (a loaded shared object), up to 16 of them.
#[derive(Default)]
struct Run {
    inode: u64,
    dev: u64,
    ranges: [(u64, u64); 16],
    len: usize,
    holds_module: bool,
}

struct Scan<'a> {
    sps: &'a [u64],
    next_sp: usize,
    here: u64,
    here_found: bool,
    stack_bytes: u64,
    stacks_found: u32,
    module_addr: Option<u64>,
    run: Run,
    module_bytes: Option<u64>,
    brk_heap: Option<BrkHeap>,
    pagemap: &'a std::fs::File,
    page: u64,
}

/// Fields of one `maps` line: `start-end perms offset dev inode [path]`.
struct MapLine<'l> {
    start: u64,
    end: u64,
    dev: u64,
    inode: u64,
    path: &'l [u8],
}

fn parse_map_line(line: &[u8]) -> Option<MapLine<'_>> {
    let mut fields = line.splitn(6, |&b| b == b' ');
    let range = fields.next()?;
    let dash = range.iter().position(|&b| b == b'-')?;
    let start = hex(&range[..dash])?;
    let end = hex(&range[dash + 1..])?;
    let _perms = fields.next()?;
    let _offset = fields.next()?;
    let dev_field = fields.next()?;
    let colon = dev_field.iter().position(|&b| b == b':')?;
    let dev = (hex(&dev_field[..colon])? << 32) | hex(&dev_field[colon + 1..])?;
    let inode = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    let path = fields.next().map_or(&[][..], |p| p.trim_ascii());
    Some(MapLine {
        start,
        end,
        dev,
        inode,
        path,
    })
}

fn hex(s: &[u8]) -> Option<u64> {
    u64::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
}

impl Scan<'_> {
    fn line(&mut self, line: &[u8]) {
        let Some(m) = parse_map_line(line) else {
            return;
        };
        // Thread stacks: anonymous mappings (or the labelled main stack) holding a stack pointer.
        // (`[anon:…]`: an anonymous mapping named with PR_SET_VMA_ANON_NAME, as glibc can name
        // thread stacks.)
        let anonymous = m.inode == 0
            && (m.path.is_empty() || m.path == b"[stack]" || m.path.starts_with(b"[anon:"));
        while self.next_sp < self.sps.len() && self.sps[self.next_sp] < m.start {
            self.next_sp += 1;
        }
        let mut holds_sp = false;
        while self.next_sp < self.sps.len() && self.sps[self.next_sp] < m.end {
            holds_sp = true;
            self.next_sp += 1;
        }
        let holds_here = (m.start..m.end).contains(&self.here);
        if holds_here && !self.here_found {
            self.here_found = true;
            // Our own thread's pointer is in `sps` too unless it could not be read.
            holds_sp = true;
        }
        if holds_sp && anonymous {
            self.stacks_found += 1;
            self.stack_bytes += self.resident(m.start, m.end, Want::Private);
        }
        if m.inode == 0 && m.path == b"[heap]" && self.brk_heap.is_none() {
            self.brk_heap = Some(BrkHeap {
                size_bytes: m.end - m.start,
                resident_bytes: self.resident(m.start, m.end, Want::Private),
            });
        }
        // Module: the run of mappings of one file around the given address.
        let Some(addr) = self.module_addr else {
            return;
        };
        if m.inode == 0 || m.inode != self.run.inode || m.dev != self.run.dev {
            self.end_run();
            if m.inode != 0 {
                self.run.inode = m.inode;
                self.run.dev = m.dev;
            }
        }
        if m.inode != 0 && self.run.len < self.run.ranges.len() {
            self.run.ranges[self.run.len] = (m.start, m.end);
            self.run.len += 1;
            self.run.holds_module |= (m.start..m.end).contains(&addr);
        }
    }

    fn end_run(&mut self) {
        if self.run.holds_module && self.module_bytes.is_none() {
            let mut bytes = 0;
            for &(start, end) in &self.run.ranges[..self.run.len] {
                bytes += self.resident(start, end, Want::File);
            }
            self.module_bytes = Some(bytes);
        }
        self.run = Run::default();
    }

    /// Resident bytes of `[start, end)` according to `/proc/self/pagemap`.
    fn resident(&self, start: u64, end: u64, want: Want) -> u64 {
        const PRESENT: u64 = 1 << 63;
        const FILE_OR_SHARED: u64 = 1 << 61;
        let mut entries = [0u8; 4096];
        let mut pages = 0u64;
        let mut page = start / self.page;
        let last = end.div_ceil(self.page);
        while page < last {
            let n = ((last - page) as usize).min(entries.len() / 8);
            let Ok(read) = self.pagemap.read_at(&mut entries[..n * 8], page * 8) else {
                break;
            };
            if read == 0 {
                break;
            }
            for e in entries[..read - read % 8].chunks_exact(8) {
                let e = u64::from_ne_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
                let file = e & FILE_OR_SHARED != 0;
                if e & PRESENT != 0 && file == (want == Want::File) {
                    pages += 1;
                }
            }
            page += (read / 8) as u64;
        }
        pages * self.page
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Want {
    /// Private (anonymous) pages.
    Private,
    /// File-backed (or shared) pages.
    File,
}

/// Calls `f` with each line of `file` (without its newline), through a stack buffer. Lines
/// longer than the buffer are skipped. `None` on a read error.
fn for_each_line(mut file: std::fs::File, mut f: impl FnMut(&[u8])) -> Option<()> {
    let mut buf = [0u8; 16384];
    let mut filled = 0;
    let mut skipping = false;
    loop {
        let n = match file.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return None,
        };
        let eof = n == 0;
        filled += n;
        let mut consumed = 0;
        while let Some(nl) = buf[consumed..filled].iter().position(|&b| b == b'\n') {
            if !skipping {
                f(&buf[consumed..consumed + nl]);
            }
            skipping = false;
            consumed += nl + 1;
        }
        if eof {
            if consumed < filled && !skipping {
                f(&buf[consumed..filled]);
            }
            return Some(());
        }
        buf.copy_within(consumed..filled, 0);
        filled -= consumed;
        if filled == buf.len() {
            // A line longer than the buffer: drop what we have of it and the rest up to '\n'.
            skipping = true;
            filled = 0;
        }
    }
}

/// Fills `out` with the stack pointers of the process's threads; returns (threads seen,
/// pointers written). `None` if `/proc/self/task` cannot be listed.
fn stack_pointers(out: &mut [u64; MAX_THREADS]) -> Option<(u32, usize)> {
    let dir = std::fs::File::open("/proc/self/task").ok()?;
    let mut buf = [0u8; 4096];
    let mut threads = 0u32;
    let mut found = 0usize;
    loop {
        let n = getdents(&dir, &mut buf)?;
        if n == 0 {
            break;
        }
        let mut at = 0;
        while at + 19 <= n {
            let reclen = usize::from(u16::from_ne_bytes([buf[at + 16], buf[at + 17]]));
            if reclen == 0 || at + reclen > n {
                break;
            }
            let name = &buf[at + 19..at + reclen];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
            at += reclen;
            if name.is_empty() || !name.iter().all(u8::is_ascii_digit) {
                continue;
            }
            threads += 1;
            if found < out.len() {
                if let Some(sp) = stack_pointer_of(name) {
                    out[found] = sp;
                    found += 1;
                }
            }
        }
    }
    Some((threads, found))
}

/// The stack pointer of thread `tid` from `/proc/self/task/<tid>/syscall`; `None` if it is
/// running (or gone).
fn stack_pointer_of(tid: &[u8]) -> Option<u64> {
    let mut path = [0u8; 64];
    let mut cursor = std::io::Cursor::new(&mut path[..]);
    cursor.write_all(b"/proc/self/task/").ok()?;
    cursor.write_all(tid).ok()?;
    cursor.write_all(b"/syscall").ok()?;
    let len = cursor.position() as usize;
    let path = std::str::from_utf8(&path[..len]).ok()?;
    let mut buf = [0u8; 512];
    let n = read_into(&mut std::fs::File::open(path).ok()?, &mut buf)?;
    // `nr a1 … a6 sp pc`, or `-1 sp pc` when blocked outside a syscall, or `running`.
    let text = std::str::from_utf8(&buf[..n]).ok()?.trim();
    let mut fields = text.rsplit(' ');
    let _pc = fields.next()?;
    let sp = fields.next()?;
    u64::from_str_radix(sp.strip_prefix("0x")?, 16).ok()
}

/// One `getdents64` call on `dir`; the bytes written.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn getdents(dir: &std::fs::File, buf: &mut [u8]) -> Option<usize> {
    use std::os::fd::AsRawFd as _;
    // SAFETY: the descriptor is open for the life of `dir`; the kernel writes at most
    // `buf.len()` bytes into `buf`, which is valid for writes of that length.
    let n = unsafe {
        libc::syscall(
            libc::SYS_getdents64,
            dir.as_raw_fd(),
            buf.as_mut_ptr(),
            buf.len(),
        )
    };
    usize::try_from(n).ok()
}

#[cfg(not(target_os = "linux"))]
fn getdents(_dir: &std::fs::File, _buf: &mut [u8]) -> Option<usize> {
    None
}

/// glibc malloc's figures (`mallinfo2()`), in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MallocInfo {
    /// `arena`: bytes the arenas got from the system (sbrk and mmapped heaps).
    pub arena_bytes: u64,
    /// `uordblks`: bytes in use in the arenas.
    pub in_use_bytes: u64,
    /// `fordblks`: free bytes in the arenas (free chunks and the top chunk).
    pub free_bytes: u64,
    /// `hblkhd`: bytes in chunks mmapped on their own (large allocations).
    pub mmapped_bytes: u64,
    /// `hblks`: how many such chunks.
    pub mmapped_chunks: u64,
    /// `keepcost`: free bytes at the top of the main arena that `malloc_trim` could release.
    pub releasable_bytes: u64,
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
mod glibc {
    use super::MallocInfo;
    use std::sync::OnceLock;

    type Mallinfo2 = unsafe extern "C" fn() -> libc::mallinfo2;

    /// `mallinfo2`, looked up once (glibc 2.33 and later have it).
    fn mallinfo2_fn() -> Option<Mallinfo2> {
        static F: OnceLock<Option<Mallinfo2>> = OnceLock::new();
        *F.get_or_init(|| {
            // SAFETY: the name is NUL-terminated; RTLD_DEFAULT searches the loaded objects.
            let p = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"mallinfo2".as_ptr()) };
            // SAFETY: glibc's `mallinfo2` has exactly this signature (malloc.h).
            (!p.is_null())
                .then(|| unsafe { std::mem::transmute::<*mut libc::c_void, Mallinfo2>(p) })
        })
    }

    pub fn info() -> Option<MallocInfo> {
        let f = mallinfo2_fn()?;
        // SAFETY: `mallinfo2` takes no arguments and only reads malloc's state under its locks.
        let m = unsafe { f() };
        Some(MallocInfo {
            arena_bytes: m.arena as u64,
            in_use_bytes: m.uordblks as u64,
            free_bytes: m.fordblks as u64,
            mmapped_bytes: m.hblkhd as u64,
            mmapped_chunks: m.hblks as u64,
            releasable_bytes: m.keepcost as u64,
        })
    }

    pub fn trim() {
        // SAFETY: `malloc_trim` has no preconditions; 0 keeps no padding at the top.
        unsafe { libc::malloc_trim(0) };
    }
}

/// glibc malloc's figures now; `None` where malloc is not glibc's or has no `mallinfo2`.
pub fn malloc_info() -> Option<MallocInfo> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    return glibc::info();
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

/// Calls glibc's `malloc_trim(0)`: gives back to the OS the free pages of every malloc arena
/// (not only the top of the main one). Returns the resident bytes that released (RSS before
/// minus after, never negative), or `None` where malloc is not glibc's or `/proc` is missing.
///
/// This is glibc's memory, not ultra's: the call walks every arena under its lock, so it costs
/// time proportional to malloc's free chunks (milliseconds on a large heap).
pub fn malloc_trim() -> Option<u64> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let before = status()?.rss_bytes;
        glibc::trim();
        let after = status()?.rss_bytes;
        Some(before.saturating_sub(after))
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_parts_sum_to_rss() {
        let s = status().expect("/proc/self/status on Linux");
        assert!(s.rss_bytes > 0);
        assert_eq!(s.rss_bytes, s.anon_bytes + s.file_bytes + s.shmem_bytes);
        assert!(s.rss_peak_bytes >= s.rss_bytes);
        assert!(s.virtual_bytes >= s.rss_bytes);
    }

    #[test]
    fn a_thread_stack_is_found_and_counted() {
        let before = mappings(None).unwrap().stacks.unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            // Touch 1 MiB of this thread's stack, then block in the kernel.
            let mut big = [1u8; 1024 * 1024];
            std::hint::black_box(&mut big);
            ready_tx.send(()).unwrap();
            rx.recv().unwrap();
            std::hint::black_box(&big);
        });
        ready_rx.recv().unwrap();
        // The other thread is blocked (in recv) almost at once; poll with a deadline. Other test
        // threads may end meanwhile (their stacks leave the total), hence the margin: at least
        // half of the touched MiB must show.
        let want = before.bytes + 512 * 1024;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let after = loop {
            let s = mappings(None).unwrap().stacks.unwrap();
            if s.bytes >= want || std::time::Instant::now() > deadline {
                break s;
            }
            std::thread::yield_now();
        };
        tx.send(()).unwrap();
        t.join().unwrap();
        assert!(after.bytes >= want, "{before:?} {after:?}");
    }

    #[test]
    fn module_of_this_code_has_resident_file_pages() {
        let here = module_of_this_code_has_resident_file_pages as *const () as usize;
        let m = mappings(Some(here)).unwrap();
        let code = m
            .module_file_bytes
            .expect("the test binary is a file mapping");
        assert!(code > 0);
        assert!(code <= status().unwrap().file_bytes + (1 << 20));
    }

    #[test]
    fn maps_lines_parse() {
        let l =
            parse_map_line(b"7f16058a3000-7f16058c9000 r--p 00000000 fd:01 1234   /usr/lib/x.so")
                .unwrap();
        assert_eq!((l.start, l.end), (0x7f16058a3000, 0x7f16058c9000));
        assert_eq!((l.dev, l.inode), ((0xfd << 32) | 1, 1234));
        assert_eq!(l.path, b"/usr/lib/x.so");
        let l =
            parse_map_line(b"7ffc52cbd000-7ffc52cde000 rw-p 00000000 00:00 0  [stack]").unwrap();
        assert_eq!((l.inode, l.path), (0, &b"[stack]"[..]));
        let l = parse_map_line(b"7ffc52cbd000-7ffc52cde000 rw-p 00000000 00:00 0").unwrap();
        assert!(l.path.is_empty());
        assert!(parse_map_line(b"garbage").is_none());
    }

    #[test]
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    fn malloc_in_use_grows_with_a_written_block() {
        let before = malloc_info().expect("glibc 2.33+ has mallinfo2");
        let mut v: Vec<u8> = Vec::with_capacity(8 << 20);
        // The unit tests' global allocator is the system one: glibc malloc. Tests running in
        // parallel may free meanwhile, hence the margin below the 8 MiB written.
        v.resize(8 << 20, 1);
        let after = malloc_info().unwrap();
        assert!(
            after.in_use_bytes + after.mmapped_bytes
                >= before.in_use_bytes + before.mmapped_bytes + (6 << 20),
            "{before:?} {after:?}"
        );
        drop(v);
        assert!(malloc_trim().is_some());
    }
}
