//! Who holds the process's RSS: one reading split into owners that add up to it exactly.
//!
//! [`Explanation::read`] takes the figures of a [`Snapshot`] (ultra's live bytes, jemalloc's
//! resident bytes), then glibc's `mallinfo2`, the thread stacks and a module's code pages, and
//! last the RSS itself (`/proc/self/status`); [`Explanation::from_parts`] does the arithmetic
//! (pure, so it is tested on made-up figures too). Each owner is a figure of its own source;
//! `unattributed_bytes` is the RSS of the same reading minus all of them, so
//! `Σ owners + unattributed_bytes == rss_bytes` holds exactly, always.
//!
//! | owner | source | resident? |
//! |---|---|---|
//! | `code` | `RssFile + RssShmem` (executables, shared libraries, mapped files, shared memory), minus `addon_code` | exactly: page counters |
//! | `addon_code` | file pages of the module that holds [`ExplainOptions::module_addr`] (the Node addon), from `pagemap` | exactly |
//! | `ultra` | live bytes of ultra's tracking allocator (requested sizes; per subsystem in [`Explanation::ultra_subsystems`]) | once written |
//! | `allocator_overhead` | jemalloc `stats.resident` minus `ultra` (when jemalloc backs ultra): tracking headers, size-class rounding, fragmentation, metadata, dirty pages not yet purged | jemalloc's own upper bound |
//! | `v8_heap` | the V8 heap's physical size, given by the caller (Node) | V8's estimate |
//! | `malloc` | glibc `uordblks + hblkhd`: bytes malloc handed out and not freed (Node's own allocations, every Buffer and ArrayBuffer backing store) | once written |
//! | `malloc_free` | free bytes malloc keeps resident in its arenas: the main arena's resident pages (`[heap]`, measured in `pagemap`) plus the other arenas' size (`mallinfo2` `arena` minus the `[heap]` size), minus the bytes in use (`uordblks`); `fordblks` where there is no `[heap]` | main arena exactly; other arenas' free chunks until `malloc_trim` releases them |
//! | `stacks` | resident pages of the thread stacks found (see `ultra_alloc::resident`) | exactly |
//!
//! No page is in two sources: file pages are only in `code`; jemalloc, V8 and glibc each map
//! their own anonymous memory (V8's heap pages are mmapped, not malloced; ultra's bytes are
//! jemalloc's, not malloc's — with [`Backing::System`] they are malloc's and are taken out of
//! `malloc`); stacks are mmapped by the thread library. What no source claims — the anonymous
//! pages of binaries' `.data`/`.bss`, mappings made directly with `mmap` by other libraries,
//! stacks of threads that were running — is unattributed.
//!
//! # Over-counts
//!
//! Owners are never negative, and `unattributed_bytes` is signed and never clamped. Some
//! sources state sizes, not residency (see the table): a block malloc or jemalloc handed out but
//! nobody wrote yet, free malloc chunks whose pages `malloc_trim` released, V8's physical-size
//! estimate. When those over-state, the owners add up to more than the RSS and
//! `unattributed_bytes` is negative by that much: an over-count is reported as a negative
//! remainder, visible, never hidden in an owner.

use ultra_alloc::resident::{self, MallocInfo, Mappings, Status};
use ultra_alloc::{Subsystem, SubsystemStats};

use crate::Snapshot;

/// What ultra's tracking allocator wraps, so that its bytes are counted once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backing {
    /// jemalloc (`TrackingAllocator<Jemalloc>`): ultra's bytes are inside jemalloc's resident.
    Jemalloc,
    /// The system allocator (glibc malloc): ultra's bytes are inside malloc's in-use bytes.
    System,
}

impl Default for Backing {
    /// jemalloc when ultra-alloc is built with it (as the Node addon and the `ultra-exporter`
    /// binary are), else the system allocator.
    fn default() -> Self {
        if ultra_alloc::jemalloc::available() {
            Backing::Jemalloc
        } else {
            Backing::System
        }
    }
}

/// How to read an [`Explanation`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExplainOptions {
    /// What ultra's tracking allocator wraps.
    pub backing: Backing,
    /// An address inside a loaded module (the Node addon) whose code pages are reported apart,
    /// as `addon_code`; `None`: all code is `code`.
    pub module_addr: Option<usize>,
    /// The V8 heap's physical size, read by the host at the same moment; `None` without V8.
    pub v8_heap_bytes: Option<u64>,
}

/// One owner of resident memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Owner {
    /// Resident pages of mapped files and shared memory, the addon's code excepted.
    Code,
    /// Resident code pages of the module given by [`ExplainOptions::module_addr`].
    AddonCode,
    /// Live bytes in ultra's tracking allocator.
    Ultra,
    /// What jemalloc holds beyond `ultra`.
    AllocatorOverhead,
    /// The V8 heap.
    V8Heap,
    /// Bytes glibc malloc handed out.
    Malloc,
    /// Free bytes glibc malloc keeps.
    MallocFree,
    /// Thread stacks.
    Stacks,
}

impl Owner {
    /// Number of owners.
    pub const COUNT: usize = 8;

    /// Every owner, in report order.
    pub const ALL: [Owner; Self::COUNT] = [
        Owner::Code,
        Owner::AddonCode,
        Owner::Ultra,
        Owner::AllocatorOverhead,
        Owner::V8Heap,
        Owner::Malloc,
        Owner::MallocFree,
        Owner::Stacks,
    ];

    /// The Prometheus `owner` label (snake case).
    pub const fn label(self) -> &'static str {
        match self {
            Owner::Code => "code",
            Owner::AddonCode => "addon_code",
            Owner::Ultra => "ultra",
            Owner::AllocatorOverhead => "allocator_overhead",
            Owner::V8Heap => "v8_heap",
            Owner::Malloc => "malloc",
            Owner::MallocFree => "malloc_free",
            Owner::Stacks => "stacks",
        }
    }

    /// The key in `explain().owners` (camel case).
    pub const fn js_key(self) -> &'static std::ffi::CStr {
        match self {
            Owner::Code => c"code",
            Owner::AddonCode => c"addonCode",
            Owner::Ultra => c"ultra",
            Owner::AllocatorOverhead => c"allocatorOverhead",
            Owner::V8Heap => c"v8Heap",
            Owner::Malloc => c"malloc",
            Owner::MallocFree => c"mallocFree",
            Owner::Stacks => c"stacks",
        }
    }
}

/// The `owner` label of the remainder.
pub const UNATTRIBUTED_LABEL: &str = "unattributed";

/// The raw readings an [`Explanation`] is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Parts {
    /// `/proc/self/status`, read last.
    pub status: Status,
    /// ultra's live bytes.
    pub ultra_bytes: u64,
    /// ultra's live bytes per subsystem, when attribution is built in.
    pub ultra_subsystems: Option<[u64; Subsystem::COUNT]>,
    /// jemalloc `stats.resident`, when available.
    pub jemalloc_resident: Option<u64>,
    /// glibc malloc's figures, when available.
    pub malloc: Option<MallocInfo>,
    /// Thread stacks and the module's code pages.
    pub mappings: Option<Mappings>,
    /// The V8 heap's physical size.
    pub v8_heap_bytes: Option<u64>,
    /// What ultra's allocator wraps.
    pub backing: Backing,
}

/// The RSS of one reading, split into owners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Explanation {
    /// Resident set size of this reading (`VmRSS`).
    pub rss_bytes: u64,
    /// Bytes per owner, indexed like [`Owner::ALL`]; `None`: not known in this process (no V8,
    /// no jemalloc, no glibc, no module given). Never negative.
    pub owners: [Option<u64>; Owner::COUNT],
    /// `rss_bytes` minus every known owner: exactly what is left, negative when the owners
    /// over-state (see the module docs). Never clamped.
    pub unattributed_bytes: i64,
    /// `ultra` split by subsystem (live bytes, indexed like [`Subsystem::ALL`]), when
    /// attribution is built in.
    pub ultra_subsystems: Option<[u64; Subsystem::COUNT]>,
    /// Threads of the process, and how many of their stacks were not found (see
    /// `ultra_alloc::resident::Stacks`).
    pub threads: Option<(u32, u32)>,
}

impl Explanation {
    /// Reads the process now, taking ultra's and jemalloc's figures from `snapshot` (take it
    /// just before). `None` where `/proc/self/status` cannot be read. Allocates nothing.
    pub fn read(snapshot: &Snapshot, options: &ExplainOptions) -> Option<Explanation> {
        let malloc = resident::malloc_info();
        let mappings = resident::mappings(options.module_addr);
        let status = resident::status()?;
        Some(Explanation::from_parts(&Parts {
            status,
            ultra_bytes: snapshot.alloc.live_bytes,
            ultra_subsystems: snapshot.alloc.subsystems.map(live_bytes),
            jemalloc_resident: snapshot.jemalloc.ok().map(|j| j.resident),
            malloc,
            mappings,
            v8_heap_bytes: options.v8_heap_bytes,
            backing: options.backing,
        }))
    }

    /// Takes a fresh [`Snapshot`] and reads the process (see [`Explanation::read`]).
    pub fn take(options: &ExplainOptions) -> Option<Explanation> {
        ultra_alloc::flush_current_thread();
        Explanation::read(&Snapshot::take(), options)
    }

    /// The arithmetic: every owner from its source, the rest unattributed.
    pub fn from_parts(p: &Parts) -> Explanation {
        let s = &p.status;
        let file = s.file_bytes + s.shmem_bytes;
        let addon = p
            .mappings
            .and_then(|m| m.module_file_bytes)
            .map(|b| b.min(file));
        let code = file - addon.unwrap_or(0);
        let ultra = p.ultra_bytes;
        let overhead = p.jemalloc_resident.map(|r| match p.backing {
            Backing::Jemalloc => r.saturating_sub(ultra),
            Backing::System => r,
        });
        let malloc = p.malloc.map(|m| {
            let in_use = m.in_use_bytes + m.mmapped_bytes;
            match p.backing {
                Backing::Jemalloc => in_use,
                Backing::System => in_use.saturating_sub(ultra),
            }
        });
        let stacks = p.mappings.and_then(|m| m.stacks);
        let mut owners = [None; Owner::COUNT];
        for (i, owner) in Owner::ALL.into_iter().enumerate() {
            owners[i] = match owner {
                Owner::Code => Some(code),
                Owner::AddonCode => addon,
                Owner::Ultra => Some(ultra),
                Owner::AllocatorOverhead => overhead,
                Owner::V8Heap => p.v8_heap_bytes,
                Owner::Malloc => malloc,
                Owner::MallocFree => p.malloc.map(|m| malloc_free(&m, p.mappings)),
                Owner::Stacks => stacks.map(|st| st.bytes),
            };
        }
        let claimed: i128 = owners.iter().flatten().map(|&b| i128::from(b)).sum();
        let rest = i128::from(s.rss_bytes) - claimed;
        Explanation {
            rss_bytes: s.rss_bytes,
            owners,
            // Byte counts are far below 2^63; saturate rather than wrap if a source went mad.
            unattributed_bytes: rest.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64,
            ultra_subsystems: p.ultra_subsystems,
            threads: stacks.map(|st| (st.threads, st.unlocated)),
        }
    }

    /// The bytes of one owner (`None`: not known here).
    pub fn owner(&self, owner: Owner) -> Option<u64> {
        self.owners[Owner::ALL.iter().position(|&o| o == owner).unwrap_or(0)]
    }

    /// Every owner with its bytes, in report order.
    pub fn iter(&self) -> impl Iterator<Item = (Owner, Option<u64>)> + '_ {
        Owner::ALL.into_iter().zip(self.owners)
    }
}

/// Free bytes malloc keeps resident: what its arenas hold resident minus what is in use.
fn malloc_free(m: &MallocInfo, mappings: Option<Mappings>) -> u64 {
    match mappings.and_then(|m| m.brk_heap) {
        Some(heap) => {
            let other_arenas = m.arena_bytes.saturating_sub(heap.size_bytes);
            (heap.resident_bytes + other_arenas).saturating_sub(m.in_use_bytes)
        }
        None => m.free_bytes,
    }
}

fn live_bytes(subs: [SubsystemStats; Subsystem::COUNT]) -> [u64; Subsystem::COUNT] {
    subs.map(|s| s.live_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ultra_alloc::resident::Stacks;

    fn sum(e: &Explanation) -> i128 {
        e.owners
            .iter()
            .flatten()
            .map(|&b| i128::from(b))
            .sum::<i128>()
            + i128::from(e.unattributed_bytes)
    }

    #[allow(clippy::too_many_arguments)]
    fn parts(
        anon: u64,
        file: u64,
        shmem: u64,
        addon: Option<u64>,
        ultra: u64,
        je: Option<u64>,
        malloc: Option<(u64, u64, u64)>,
        stacks: Option<u64>,
        v8: Option<u64>,
        backing: Backing,
    ) -> Parts {
        Parts {
            status: Status {
                rss_bytes: anon + file + shmem,
                anon_bytes: anon,
                file_bytes: file,
                shmem_bytes: shmem,
                ..Status::default()
            },
            ultra_bytes: ultra,
            ultra_subsystems: None,
            jemalloc_resident: je,
            malloc: malloc.map(|(in_use, mmapped, free)| MallocInfo {
                in_use_bytes: in_use,
                mmapped_bytes: mmapped,
                free_bytes: free,
                ..MallocInfo::default()
            }),
            mappings: Some(Mappings {
                stacks: stacks.map(|bytes| Stacks {
                    bytes,
                    threads: 3,
                    unlocated: 0,
                }),
                module_file_bytes: addon,
                brk_heap: None,
            }),
            v8_heap_bytes: v8,
            backing,
        }
    }

    #[test]
    fn a_known_case() {
        let mib = 1 << 20;
        let e = Explanation::from_parts(&parts(
            100 * mib,
            40 * mib,
            2 * mib,
            Some(3 * mib),
            30 * mib,
            Some(36 * mib),
            Some((20 * mib, 10 * mib, 4 * mib)),
            Some(mib),
            Some(25 * mib),
            Backing::Jemalloc,
        ));
        assert_eq!(e.rss_bytes, 142 * mib);
        assert_eq!(e.owner(Owner::Code), Some(39 * mib));
        assert_eq!(e.owner(Owner::AddonCode), Some(3 * mib));
        assert_eq!(e.owner(Owner::Ultra), Some(30 * mib));
        assert_eq!(e.owner(Owner::AllocatorOverhead), Some(6 * mib));
        assert_eq!(e.owner(Owner::V8Heap), Some(25 * mib));
        assert_eq!(e.owner(Owner::Malloc), Some(30 * mib));
        assert_eq!(e.owner(Owner::MallocFree), Some(4 * mib));
        assert_eq!(e.owner(Owner::Stacks), Some(mib));
        assert_eq!(e.unattributed_bytes, 4 * mib as i64);
        assert_eq!(sum(&e), i128::from(e.rss_bytes));
    }

    #[test]
    fn system_backing_counts_ultra_once() {
        let e = Explanation::from_parts(&parts(
            1000,
            0,
            0,
            None,
            300,
            Some(50),
            Some((400, 100, 0)),
            None,
            None,
            Backing::System,
        ));
        assert_eq!(e.owner(Owner::Malloc), Some(200));
        assert_eq!(e.owner(Owner::AllocatorOverhead), Some(50));
        assert_eq!(e.owner(Owner::AddonCode), None);
        assert_eq!(e.owner(Owner::Stacks), None);
        assert_eq!(e.unattributed_bytes, 1000 - 300 - 50 - 200);
    }

    #[test]
    fn an_over_count_is_a_negative_remainder() {
        let e = Explanation::from_parts(&parts(
            100,
            0,
            0,
            None,
            80,
            Some(60),
            Some((50, 0, 0)),
            None,
            None,
            Backing::Jemalloc,
        ));
        // jemalloc's resident (60) is below ultra's live bytes (80): overhead is 0, not -20.
        assert_eq!(e.owner(Owner::AllocatorOverhead), Some(0));
        assert_eq!(e.unattributed_bytes, 100 - 80 - 50);
        assert_eq!(sum(&e), 100);
    }

    #[test]
    fn malloc_free_is_what_the_arenas_hold_resident_beyond_the_bytes_in_use() {
        let mut p = parts(
            1000,
            0,
            0,
            None,
            0,
            None,
            Some((300, 0, 500)),
            None,
            None,
            Backing::Jemalloc,
        );
        p.malloc.as_mut().unwrap().arena_bytes = 800;
        // No [heap]: glibc's free bytes as they are.
        assert_eq!(
            Explanation::from_parts(&p).owner(Owner::MallocFree),
            Some(500)
        );
        // A [heap] of 600 bytes with 350 resident (malloc_trim released the rest), and 200 bytes
        // of other arenas: 550 resident, 300 of them in use.
        p.mappings.as_mut().unwrap().brk_heap = Some(ultra_alloc::resident::BrkHeap {
            size_bytes: 600,
            resident_bytes: 350,
        });
        let e = Explanation::from_parts(&p);
        assert_eq!(e.owner(Owner::MallocFree), Some(250));
        assert_eq!(e.unattributed_bytes, 1000 - 300 - 250);
        // In-use bytes that were never touched cannot make it negative.
        p.mappings.as_mut().unwrap().brk_heap = Some(ultra_alloc::resident::BrkHeap {
            size_bytes: 800,
            resident_bytes: 100,
        });
        assert_eq!(
            Explanation::from_parts(&p).owner(Owner::MallocFree),
            Some(0)
        );
    }

    #[test]
    fn labels_and_keys_are_unique() {
        for (i, a) in Owner::ALL.iter().enumerate() {
            for b in &Owner::ALL[i + 1..] {
                assert_ne!(a.label(), b.label());
                assert_ne!(a.js_key(), b.js_key());
            }
            assert_ne!(a.label(), UNATTRIBUTED_LABEL);
        }
    }

    proptest! {
        #[test]
        fn owners_sum_to_rss_and_are_never_negative(
            anon in 0u64..1 << 40, file in 0u64..1 << 40, shmem in 0u64..1 << 30,
            addon in proptest::option::of(0u64..1 << 41), ultra in 0u64..1 << 40,
            je in proptest::option::of(0u64..1 << 40),
            malloc in proptest::option::of((0u64..1 << 40, 0u64..1 << 40, 0u64..1 << 40)),
            stacks in proptest::option::of(0u64..1 << 30), v8 in proptest::option::of(0u64..1 << 40),
            system in any::<bool>(),
        ) {
            let backing = if system { Backing::System } else { Backing::Jemalloc };
            let e = Explanation::from_parts(&parts(anon, file, shmem, addon, ultra, je, malloc, stacks, v8, backing));
            prop_assert_eq!(sum(&e), i128::from(anon + file + shmem));
            // Code pages are split, never invented: code + addon_code is the file-backed RSS.
            prop_assert_eq!(e.owner(Owner::Code).unwrap() + e.owner(Owner::AddonCode).unwrap_or(0), file + shmem);
        }
    }
}
