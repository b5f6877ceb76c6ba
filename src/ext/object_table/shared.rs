// SPDX-License-Identifier: GPL-2.0

//! Pages and pool objects shared by several slots of an
//! [`ObjectTable`](super::ObjectTable).
//!
//! A slot may hold a counted reference to a [`SharedEntry`] instead of a page or object of
//! its own (deduplication). A slot's own page or object becomes shared when its user finds
//! another block that holds the same bytes ([`SlotGuard::share`](super::SlotGuard::share)):
//! an entry takes it over, and the slot and the other block each hold a reference. The
//! entry owns the page or object and never changes it, and is freed with its last
//! reference. How a user finds the block to share with is its own business: the table
//! keeps no index of contents.
//!
//! # Locking
//!
//! An entry's reference count is atomic. A new reference is taken only from one that is
//! held ([`SharedRef::try_clone`]), in practice the reference of a locked slot, so a count
//! never rises from 0 and an entry is never found after its last reference went. The holder
//! of the last reference frees the entry and its page or object, which never sleeps, so a
//! reference may be dropped anywhere, a slot lock held or not, in swap's slot-free callback
//! too.

use super::{Content, Header, Held, Kind, ZsObject, ENTRY_LOW, HEADER_BYTES};
use crate::ext::{
    mm::{page::PageBox, zsmalloc::ZsPool},
    raw_buf::RawBuf,
};
use core::{mem::size_of, ptr, ptr::NonNull};
use kernel::{
    bindings,
    prelude::*,
    sync::atomic::{Atomic, Full, Relaxed}, //
};

/// A page or pool object that the slots referring to it share.
///
/// # Invariants
///
/// `handle` is what the entry owns: the frame of a page from [`PageBox::into_raw`] if
/// `is_page`, else a live object of the pool of the entry's table from
/// [`ObjectTable::alloc`](super::ObjectTable::alloc) whose header records `value` and
/// `size`. Nobody writes it while the entry lives. `refs` counts the [`SharedRef`]s to the
/// entry, and the entry lives while it is not 0. The entry is 32-byte aligned, so that a
/// slot can keep its kind and flags in its address's low bits.
#[repr(C, align(32))]
pub(crate) struct SharedEntry {
    refs: Atomic<u32>,
    is_page: bool,
    value: u8,
    size: u16,
    handle: usize,
}

impl SharedEntry {
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
            // held it checked them).
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

/// An entry allocated ahead of [`SlotGuard::share`](super::SlotGuard::share), so that no
/// allocation waits with a slot locked.
pub(crate) struct SpareEntry(KBox<SharedEntry>);

impl SpareEntry {
    /// An entry that owns nothing yet. May sleep.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self(KBox::new(
            SharedEntry {
                refs: Atomic::new(0),
                is_page: false,
                value: 0,
                size: 0,
                handle: 0,
            },
            GFP_KERNEL | __GFP_NOWARN,
        )?))
    }
}

/// The shared entries of a table: how many there are, and the memory they saved.
pub(crate) struct SharedEntries {
    /// The entries that live.
    entries: Atomic<usize>,
    /// The references to entries that own a pool object beyond each entry's first, by the
    /// object's size: the pool memory sharing saved.
    saved_bytes: Atomic<u64>,
    /// The references to entries that own a page beyond each entry's first: the pages
    /// sharing saved.
    saved_pages: Atomic<u64>,
}

impl SharedEntries {
    /// No entries.
    pub(super) fn new() -> Self {
        Self {
            entries: Atomic::new(0),
            saved_bytes: Atomic::new(0),
            saved_pages: Atomic::new(0),
        }
    }

    /// The bytes of the entries.
    pub(crate) fn bytes(&self) -> usize {
        self.entries.load(Relaxed) * ENTRY_BYTES
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
        let (counter, n) = if entry.is_page {
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

    /// Makes `content`, a page or an object of `pool` recorded with the user's value
    /// `value`, shared in `spare`: returns two references to it, one for the slot that
    /// held it and one for another. Any other content is handed back as it was.
    pub(super) fn make<'a>(
        &'a self,
        pool: &'a ZsPool,
        spare: SpareEntry,
        value: usize,
        content: Content<'a>,
    ) -> core::result::Result<[SharedRef<'a>; 2], Content<'a>> {
        let value = value & super::ObjectTable::VALUE_MASK;
        let mut entry = spare.0;
        // `VALUE_MASK` has 7 bits; an object's size 16 (`MAX_OBJECT_SIZE`).
        entry.value = value as u8;
        match content {
            Content::Page(page) => {
                entry.is_page = true;
                entry.handle = page.into_raw();
            }
            Content::Object(mut object) if ptr::eq(object.pool, pool) => {
                object.set_value(value);
                entry.is_page = false;
                entry.size = object.size() as u16;
                entry.handle = object.handle;
                // The entry owns it from now on.
                core::mem::forget(object);
            }
            other => return Err(other),
        }
        *entry.refs.get_mut() = 2;
        self.entries.fetch_add(1, Relaxed);
        self.count_saved(&entry, true);
        // INVARIANT: the entry owns what it records, from the slot (or object) that owned
        // it; its two references are the two values made here.
        let p = KBox::into_raw(entry);
        // SAFETY: from `KBox::into_raw`, not null.
        let entry = unsafe { NonNull::new_unchecked(p) };
        Ok([
            SharedRef {
                entries: self,
                pool,
                entry,
            },
            SharedRef {
                entries: self,
                pool,
                entry,
            },
        ])
    }

    /// Drops a reference to `entry`; with the last one, frees it with its page or object.
    ///
    /// # Safety
    ///
    /// The caller owns a reference to `entry`, an entry of `self` whose object belongs to
    /// `pool`, and gives it up.
    unsafe fn release(&self, pool: &ZsPool, entry: NonNull<SharedEntry>) {
        let p = entry.as_ptr();
        // SAFETY: the entry lives while the caller's reference does (type invariant).
        let entry_ref = unsafe { &*p };
        // Full: this holder's reads of the page or object come before its free by the
        // holder of the last reference.
        if entry_ref.refs.fetch_sub(1, Full) > 1 {
            self.count_saved(entry_ref, false);
            return;
        }
        self.entries.fetch_sub(1, Relaxed);
        // SAFETY: the entry came from `KBox::into_raw` in `make`, and this was its last
        // reference: nobody else refers to it, and it is owned here.
        let entry = unsafe { KBox::from_raw(p) };
        // SAFETY: the entry owns what it records (type invariant), and goes.
        drop(unsafe { entry.into_content(pool) });
    }
}

/// Whether `held`, a page or an object of `pool`, holds the bytes of `data`: a page the
/// whole of `data`, an object as many bytes as `data`, and the same ones. `local_copy` as
/// for [`SlotGuard::read`](super::SlotGuard::read); `EINVAL` if it is too short.
///
/// # Safety
///
/// `held` must be what a locked slot of a table over `pool` holds, or what a shared entry
/// of it owns, and stay live and unwritten until this returns.
pub(super) unsafe fn same_bytes(
    pool: &ZsPool,
    held: Held,
    data: &RawBuf<'_>,
    local_copy: &mut [u8],
) -> Result<bool> {
    match held.kind {
        // SAFETY: a page from `PageBox::into_raw`, live and unwritten (safety
        // requirements).
        Kind::Page => Ok(unsafe { PageBox::same_bytes_raw(held.raw, data) }),
        Kind::Object => {
            let size = held.header.size;
            if size != data.len() {
                return Ok(false);
            }
            // SAFETY: a live object of `pool` with a header and `size` bytes of data, not
            // freed or written until this returns (safety requirements).
            unsafe {
                pool.read_with(held.raw, HEADER_BYTES + size, local_copy, |bytes| {
                    data.same_as_slice(&bytes[HEADER_BYTES..])
                })
            }
        }
        _ => Ok(false),
    }
}

/// A counted reference to a [`SharedEntry`]; the entry, and its page or object, is freed
/// when its last reference is dropped.
///
/// # Invariants
///
/// `entry` is an entry of `entries` whose object belongs to `pool`, and this value owns one
/// of its references.
pub(crate) struct SharedRef<'a> {
    pub(super) entries: &'a SharedEntries,
    pool: &'a ZsPool,
    entry: NonNull<SharedEntry>,
}

impl<'a> SharedRef<'a> {
    /// The entry.
    fn entry(&self) -> &SharedEntry {
        // SAFETY: the entry is live while this reference is (type invariant); its `refs`
        // is atomic, and nothing else of it changes while it lives.
        unsafe { self.entry.as_ref() }
    }

    /// What the entry owns (see [`SharedEntry`]'s invariants).
    pub(super) fn held(&self) -> Held {
        self.entry().held()
    }

    /// Whether other references to the entry live. Only this one's holder can take
    /// another, so a `false` stays `false` while it holds this one.
    pub(crate) fn has_others(&self) -> bool {
        self.entry().refs.load(Relaxed) > 1
    }

    /// The user's value it was shared with.
    pub(crate) fn value(&self) -> usize {
        self.entry().value.into()
    }

    /// One more reference to the same entry; `EOVERFLOW` if it has as many as its count
    /// holds. Never sleeps.
    pub(crate) fn try_clone(&self) -> Result<Self> {
        let entry = self.entry();
        let mut seen = entry.refs.load(Relaxed);
        loop {
            // This reference is one: `seen` is at least 1, and stays so meanwhile.
            let next = seen.checked_add(1).ok_or(EOVERFLOW)?;
            match entry.refs.cmpxchg(seen, next, Relaxed) {
                Ok(_) => break,
                Err(now) => seen = now,
            }
        }
        self.entries.count_saved(entry, true);
        // INVARIANT: the reference just counted is the new value's.
        Ok(Self {
            entries: self.entries,
            pool: self.pool,
            entry: self.entry,
        })
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
    /// `raw` must come from [`SharedRef::into_raw`] of a reference to an entry of `entries`
    /// whose object belongs to `pool`, and not have been taken back yet.
    pub(super) unsafe fn from_raw(
        entries: &'a SharedEntries,
        pool: &'a ZsPool,
        raw: usize,
    ) -> Self {
        // INVARIANT: the reference given up by `into_raw` (safety requirements).
        Self {
            entries,
            pool,
            // SAFETY: `into_raw` returned the address of an entry, not null.
            entry: unsafe { NonNull::new_unchecked(raw as *mut SharedEntry) },
        }
    }
}

impl Drop for SharedRef<'_> {
    fn drop(&mut self) {
        // SAFETY: this value owns a reference to `entry`, an entry of `entries` over `pool`
        // (type invariant), and gives it up.
        unsafe { self.entries.release(self.pool, self.entry) };
    }
}
