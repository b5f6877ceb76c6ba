// SPDX-License-Identifier: GPL-2.0

//! Pages and pool objects shared by several slots of an
//! [`ObjectTable`](super::ObjectTable), found by a hash of what they store.
//!
//! A slot may hold a counted reference to a [`SharedEntry`] instead of a page or object of
//! its own (deduplication). The entry owns the page or object and never changes it; it is
//! linked into the table's [`SharedIndex`] under the hash its user gave, and freed with its
//! last reference. A hash only finds a candidate: the user proves that the bytes are the
//! same ([`SharedRef::same_bytes`]) before it stores a reference, so a collision costs a
//! comparison, never another block's data.
//!
//! # Locking
//!
//! The index is a hash table of chains under one spin lock, taken to find an entry and take
//! a reference to it, to link a new one, and to drop a reference (unlinking the entry with
//! the last one). Nothing else is taken under it and nothing sleeps: the buckets are
//! allocated before it is taken and freed after, and the entry's page or object after it
//! is released. The spin lock never waits for a sleeping lock, so a reference may be
//! dropped anywhere, a slot lock held or not, in swap's slot-free callback too.

use super::{Content, Header, Held, Kind, ZsObject, ENTRY_LOW, HEADER_BYTES};
use crate::ext::{
    mm::{page::PageBox, zsmalloc::ZsPool},
    raw_buf::RawBuf,
};
use core::{cell::UnsafeCell, mem::size_of, ptr, ptr::NonNull};
use kernel::{
    bindings,
    new_spinlock,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        SpinLock,
    }, //
};

/// Buckets of an index that holds an entry: 512 bytes of pointers.
const MIN_BUCKETS: usize = 64;

/// The most buckets, 512 KiB of pointers: one `kmalloc()` allocation, which may be freed
/// under a spin lock. Chains grow longer beyond 131,072 entries.
const MAX_BUCKETS: usize = 1 << 16;

/// The hash an entry keeps: the user's 64-bit hash folded to 32 bits.
fn fold(hash: u64) -> u32 {
    (hash ^ (hash >> 32)) as u32
}

/// A page or pool object that the slots referring to it share.
///
/// # Invariants
///
/// `handle` is what the entry owns: the frame of a page from [`PageBox::into_raw`] if
/// `is_page`, else a live object of the pool of the index's table from
/// [`ObjectTable::alloc`](super::ObjectTable::alloc) whose header records `value` and
/// `size`. The entry owns it and nobody writes it while the entry lives. `refs` counts the
/// [`SharedRef`]s to the entry and is at least 1 while the entry is linked into its
/// index's chain of `hash`; `refs` and `next` are read and written only under the index's
/// lock. The entry is 32-byte aligned, so that a slot can keep flags in its address's low
/// bits.
#[repr(C, align(32))]
pub(crate) struct SharedEntry {
    next: UnsafeCell<*mut SharedEntry>,
    refs: UnsafeCell<u32>,
    hash: u32,
    handle: usize,
    is_page: bool,
    value: u8,
    size: u16,
}

impl SharedEntry {
    /// Whether the entry owns a page (else a pool object).
    fn is_page(&self) -> bool {
        self.is_page
    }

    /// The size of the entry's object (0 for a page).
    fn object_size(&self) -> u64 {
        if self.is_page {
            0
        } else {
            self.size.into()
        }
    }

    /// What the entry owns, as a slot sees it.
    fn held(&self) -> Held {
        let value = self.value.into();
        if self.is_page {
            Held {
                kind: Kind::Page,
                raw: self.handle,
                header: Header {
                    value,
                    size: bindings::PAGE_SIZE,
                },
            }
        } else {
            Held {
                kind: Kind::Object,
                raw: self.handle,
                header: Header {
                    value,
                    size: self.size.into(),
                },
            }
        }
    }

    /// Hands back what the entry owns.
    ///
    /// # Safety
    ///
    /// The entry must own what it records (type invariant), and give it up: nothing may
    /// refer to it after this.
    unsafe fn into_content(self: KBox<Self>, pool: &ZsPool) -> Content<'_> {
        if self.is_page {
            // SAFETY: an owned page from `PageBox::into_raw` (safety requirements).
            Content::Page(unsafe { PageBox::from_raw(self.handle) })
        } else {
            // INVARIANT: an owned, live object of `pool` from `ObjectTable::alloc`, whose
            // header records `value` and `size`, with its low bits clear (the slot that
            // held it, or `ObjectTable::alloc`, checked them).
            Content::Object(ZsObject {
                pool,
                handle: self.handle,
                header: Header {
                    value: self.value.into(),
                    size: self.size.into(),
                },
            })
        }
    }
}

/// The bytes of one entry, as `kmalloc()` allocates them.
pub(crate) const ENTRY_BYTES: usize = size_of::<SharedEntry>();
const _: () = assert!(ENTRY_BYTES == 32 && core::mem::align_of::<SharedEntry>() > ENTRY_LOW);

/// The chains of an index.
///
/// # Invariants
///
/// `heads` is empty or has a power-of-two length; every entry of the index is in the chain
/// of bucket `hash & (heads.len() - 1)`, and `entries` counts them.
struct Buckets {
    heads: KVec<*mut SharedEntry>,
    entries: usize,
}

// SAFETY: the entries reachable from `heads` belong to the index; their mutable fields are
// used only under the index's lock, whatever thread holds it, and the rest never changes.
unsafe impl Send for Buckets {}

impl Buckets {
    /// The bucket of `hash` (folded); `heads` must not be empty.
    fn bucket(&self, hash: u32) -> usize {
        hash as usize & (self.heads.len() - 1)
    }

    /// The number of buckets the index should grow to before one more entry, if any.
    fn wanted(&self) -> Option<usize> {
        let len = self.heads.len();
        if len == 0 {
            Some(MIN_BUCKETS)
        } else if self.entries >= 2 * len && len < MAX_BUCKETS {
            Some(2 * len)
        } else {
            None
        }
    }

    /// Moves every entry into `heads` (all null, of a power-of-two length) if it has more
    /// buckets than the index; returns the buckets that are no longer used, to be freed
    /// after the lock.
    fn rehash(&mut self, mut heads: KVec<*mut SharedEntry>) -> KVec<*mut SharedEntry> {
        if heads.len() <= self.heads.len() || !heads.len().is_power_of_two() {
            return heads;
        }
        let mask = heads.len() - 1;
        for &head in self.heads.iter() {
            let mut p = head;
            while !p.is_null() {
                // SAFETY: a linked entry is live, and its `next` is used under the lock,
                // held through `&mut self` (type invariant of `SharedEntry`).
                let (next, bucket) = unsafe { (&mut *(*p).next.get(), (*p).hash as usize) };
                let after = *next;
                if let Some(new_head) = heads.get_mut(bucket & mask) {
                    *next = *new_head;
                    *new_head = p;
                }
                p = after;
            }
        }
        // INVARIANT: every entry is now in the chain of its hash in the new buckets.
        core::mem::swap(&mut self.heads, &mut heads);
        heads
    }
}

/// An index of [`SharedEntry`]s by hash, with the memory it takes and the memory that
/// sharing saved.
pub(crate) struct SharedIndex {
    buckets: Pin<KBox<SpinLock<Buckets>>>,
    /// Bytes of the entries and buckets.
    bytes: Atomic<usize>,
    /// The references to entries that own a pool object beyond each entry's first, by the
    /// object's size: the pool memory sharing saved.
    saved_bytes: Atomic<u64>,
    /// The references to entries that own a page beyond each entry's first: the pages
    /// sharing saved.
    saved_pages: Atomic<u64>,
}

impl SharedIndex {
    /// An empty index, with no buckets yet. May sleep.
    pub(super) fn new() -> Result<Self> {
        Ok(Self {
            buckets: KBox::pin_init(
                new_spinlock!(
                    // INVARIANT: no buckets, no entries.
                    Buckets {
                        heads: KVec::new(),
                        entries: 0,
                    },
                    "SharedIndex::buckets"
                ),
                GFP_KERNEL,
            )?,
            bytes: Atomic::new(0),
            saved_bytes: Atomic::new(0),
            saved_pages: Atomic::new(0),
        })
    }

    /// The bytes of the entries and buckets.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes.load(Relaxed)
    }

    /// The bytes that sharing saved: the objects' and the pages'.
    pub(crate) fn saved(&self) -> u64 {
        self.saved_bytes.load(Relaxed) + self.saved_pages() * bindings::PAGE_SIZE as u64
    }

    /// The pages that sharing saved.
    pub(crate) fn saved_pages(&self) -> u64 {
        self.saved_pages.load(Relaxed)
    }

    /// Counts a reference to `entry` beyond its first as taken (`add`) or dropped.
    fn count_saved(&self, entry: &SharedEntry, add: bool) {
        let (counter, n) = if entry.is_page() {
            (&self.saved_pages, 1)
        } else {
            (&self.saved_bytes, entry.object_size())
        };
        if add {
            counter.fetch_add(n, Relaxed);
        } else {
            counter.fetch_sub(n, Relaxed);
        }
    }

    /// Records the memory of `buckets`.
    fn note_bytes(&self, buckets: &Buckets) {
        self.bytes.store(
            buckets.entries * ENTRY_BYTES + buckets.heads.len() * size_of::<*mut SharedEntry>(),
            Relaxed,
        );
    }

    /// The newest entry linked under `hash`, with a reference taken to it; `None` if
    /// there is none, or it cannot take one more reference.
    pub(super) fn find<'a>(&'a self, pool: &'a ZsPool, hash: u64) -> Option<SharedRef<'a>> {
        let hash = fold(hash);
        let buckets = self.buckets.lock();
        let mut p = *buckets.heads.get(buckets.bucket_checked(hash)?)?;
        while !p.is_null() {
            // SAFETY: a linked entry is live, and `refs` and `next` are used under the
            // lock, which is held (type invariant of `SharedEntry`).
            let entry = unsafe { &*p };
            if entry.hash == hash {
                // SAFETY: as above.
                let refs = unsafe { &mut *entry.refs.get() };
                *refs = refs.checked_add(1)?;
                self.count_saved(entry, true);
                // INVARIANT: the reference just counted is the new value's.
                return NonNull::new(p).map(|entry| SharedRef {
                    index: self,
                    pool,
                    entry,
                });
            }
            // SAFETY: as above.
            p = unsafe { *entry.next.get() };
        }
        None
    }

    /// Makes `content`, a page or an object of `pool`, shared under `hash` with the user's
    /// value `value`: the first reference to it. Any other content, and any content when
    /// there is no memory for the entry, is handed back as it was. May sleep (allocation).
    pub(super) fn insert<'a>(
        &'a self,
        pool: &'a ZsPool,
        hash: u64,
        value: usize,
        mut content: Content<'a>,
    ) -> Content<'a> {
        let value = value & super::ObjectTable::VALUE_MASK;
        let (is_page, size) = match &mut content {
            Content::Page(_) => (true, 0),
            Content::Object(object) if ptr::eq(object.pool, pool) => {
                object.set_value(value);
                // An object's size has 16 bits (`MAX_OBJECT_SIZE`).
                (false, object.size() as u16)
            }
            _ => return content,
        };
        let hash = fold(hash);
        let Ok(entry) = KBox::new(
            SharedEntry {
                next: UnsafeCell::new(ptr::null_mut()),
                refs: UnsafeCell::new(1),
                hash,
                handle: 0,
                is_page,
                // `VALUE_MASK` has 7 bits.
                value: value as u8,
                size,
            },
            GFP_KERNEL | __GFP_NOWARN,
        ) else {
            return content;
        };
        let wanted = self.buckets.lock().wanted();
        // Without memory for more buckets, the chains grow longer.
        let spare = wanted
            .and_then(|len| KVec::from_elem(ptr::null_mut(), len, GFP_KERNEL | __GFP_NOWARN).ok());
        let entry = KBox::into_raw(entry);
        // SAFETY: the entry was just allocated and is not linked yet: nobody else sees it.
        unsafe {
            (*entry).handle = match content {
                Content::Page(page) => page.into_raw(),
                Content::Object(object) => {
                    let handle = object.handle;
                    // The entry owns it from now on.
                    core::mem::forget(object);
                    handle
                }
                // Ruled out above.
                Content::Empty | Content::Word(_) | Content::Shared(_) => 0,
            }
        };
        let mut buckets = self.buckets.lock();
        let unused = spare.map(|heads| buckets.rehash(heads));
        let bucket = buckets.bucket_checked(hash);
        match bucket.and_then(|i| buckets.heads.get_mut(i)) {
            Some(head) => {
                // SAFETY: the entry is not linked yet; the lock is held for its `next`.
                unsafe { *(*entry).next.get() = *head };
                *head = entry;
                // INVARIANT: the entry, with its one reference, is in its hash's chain.
                buckets.entries += 1;
                self.note_bytes(&buckets);
                drop(buckets);
                drop(unused);
                Content::Shared(SharedRef {
                    index: self,
                    pool,
                    // SAFETY: from `KBox::into_raw`, not null.
                    entry: unsafe { NonNull::new_unchecked(entry) },
                })
            }
            None => {
                // No buckets at all (none could be allocated): the content goes back.
                drop(buckets);
                drop(unused);
                // SAFETY: from `KBox::into_raw` above, never linked: owned here.
                let entry = unsafe { KBox::from_raw(entry) };
                // SAFETY: the entry owns what it records, and is dropped unused.
                unsafe { entry.into_content(pool) }
            }
        }
    }

    /// Drops a reference to `entry`; with the last one, unlinks it and frees it with its
    /// page or object.
    ///
    /// # Safety
    ///
    /// The caller owns a reference to `entry`, an entry of `self` whose object belongs to
    /// `pool`, and gives it up.
    unsafe fn release(&self, pool: &ZsPool, entry: NonNull<SharedEntry>) {
        let p = entry.as_ptr();
        let mut buckets = self.buckets.lock();
        // SAFETY: the entry is live (the caller's reference) and its `refs` is used under
        // the lock, which is held.
        let refs = unsafe { &mut *(*p).refs.get() };
        *refs = refs.saturating_sub(1);
        if *refs > 0 {
            // SAFETY: the entry is live; only its immutable fields are read.
            self.count_saved(unsafe { &*p }, false);
            return;
        }
        // SAFETY: the entry is linked (it had a reference) in the chain of its hash; the
        // `next` fields of that chain are used under the lock, which is held.
        unsafe {
            let bucket = buckets.bucket((*p).hash);
            let next = *(*p).next.get();
            if let Some(head) = buckets.heads.get_mut(bucket) {
                if *head == p {
                    *head = next;
                } else {
                    let mut q = *head;
                    while !q.is_null() && *(*q).next.get() != p {
                        q = *(*q).next.get();
                    }
                    if !q.is_null() {
                        *(*q).next.get() = next;
                    }
                }
            }
        }
        buckets.entries -= 1;
        // An index that holds nothing gives its buckets back.
        let unused = if buckets.entries == 0 {
            core::mem::take(&mut buckets.heads)
        } else {
            KVec::new()
        };
        self.note_bytes(&buckets);
        drop(buckets);
        drop(unused);
        // SAFETY: the entry came from `KBox::into_raw` in `insert`, is unlinked, and had
        // no other reference: it is owned here.
        let entry = unsafe { KBox::from_raw(p) };
        // SAFETY: the entry owns what it records (type invariant), and goes.
        drop(unsafe { entry.into_content(pool) });
    }
}

impl Buckets {
    /// The bucket of `hash` (folded), or `None` if there are no buckets.
    fn bucket_checked(&self, hash: u32) -> Option<usize> {
        (!self.heads.is_empty()).then(|| self.bucket(hash))
    }
}

/// A counted reference to a [`SharedEntry`]; the entry, and its page or object, is freed
/// when its last reference is dropped.
///
/// # Invariants
///
/// `entry` is an entry of `index` whose object belongs to `pool`, and this value owns one
/// of its references.
pub(crate) struct SharedRef<'a> {
    pub(super) index: &'a SharedIndex,
    pool: &'a ZsPool,
    entry: NonNull<SharedEntry>,
}

impl<'a> SharedRef<'a> {
    /// The entry.
    fn entry(&self) -> &SharedEntry {
        // SAFETY: the entry is live while this reference is (type invariant); only its
        // immutable fields are read through this.
        unsafe { self.entry.as_ref() }
    }

    /// What the entry owns (see [`SharedEntry`]'s invariants).
    pub(super) fn held(&self) -> Held {
        self.entry().held()
    }

    /// The user's value it was shared with.
    pub(crate) fn value(&self) -> usize {
        self.entry().value.into()
    }

    /// Whether it stores the bytes of `data`: a page the whole of `data`, an object as many
    /// bytes as `data`, and the same ones. `local_copy` as for
    /// [`SlotGuard::read`](super::SlotGuard::read); `EINVAL` if it is too short.
    pub(crate) fn same_bytes(&self, data: &RawBuf<'_>, local_copy: &mut [u8]) -> Result<bool> {
        let held = self.held();
        match held.kind {
            // SAFETY: the entry owns the page and nobody writes it while it lives (type
            // invariant of `SharedEntry`), which this reference keeps it doing.
            Kind::Page => Ok(unsafe { PageBox::same_bytes_raw(held.raw, data) }),
            Kind::Object => {
                let size = held.header.size;
                if size != data.len() {
                    return Ok(false);
                }
                // SAFETY: a live object of `pool` with a header and `size` bytes of data,
                // never written and not freed while this reference lives (type invariants).
                unsafe {
                    self.pool
                        .read_with(held.raw, HEADER_BYTES + size, local_copy, |bytes| {
                            data.same_as_slice(&bytes[HEADER_BYTES..])
                        })
                }
            }
            _ => Ok(false),
        }
    }

    /// Gives up the reference, for a slot to own: the entry's address, whose low bits
    /// ([`ENTRY_LOW`]) are clear.
    pub(super) fn into_raw(self) -> usize {
        let raw = self.entry.as_ptr() as usize;
        core::mem::forget(self);
        raw
    }

    /// Takes back a reference given up by [`SharedRef::into_raw`].
    ///
    /// # Safety
    ///
    /// `raw` must come from [`SharedRef::into_raw`] of a reference to an entry of `index`
    /// whose object belongs to `pool`, and not have been taken back yet.
    pub(super) unsafe fn from_raw(index: &'a SharedIndex, pool: &'a ZsPool, raw: usize) -> Self {
        // INVARIANT: the reference given up by `into_raw` (safety requirements).
        Self {
            index,
            pool,
            // SAFETY: `into_raw` returned the address of an entry, not null.
            entry: unsafe { NonNull::new_unchecked(raw as *mut SharedEntry) },
        }
    }
}

impl Drop for SharedRef<'_> {
    fn drop(&mut self) {
        // SAFETY: this value owns a reference to `entry`, an entry of `index` over `pool`
        // (type invariant), and gives it up.
        unsafe { self.index.release(self.pool, self.entry) };
    }
}
