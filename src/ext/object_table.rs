// SPDX-License-Identifier: GPL-2.0

//! A table of slots that own memory objects, one slot per block of a RAM disk.
//!
//! An [`ObjectTable`] is a [`ChunkTable`] of [`Slot`]s over a zsmalloc pool. A slot is one
//! word: it holds nothing, a word, a page of its own ([`PageBox`]) or an object of the
//! table's pool ([`ZsObject`]), and a small value of the user's (a block's state). An
//! object has no room beside its handle for the value and its size: it keeps them in a
//! header of [`HEADER_BYTES`] before its data, read once per lock of its slot. Each slot
//! has a sleeping lock in bit 0 of its word ([`BitLock`]), checked by lockdep through one
//! map per table, as zram's slot lock.
//!
//! A slot may also hold a reference to a page or object that several slots share
//! ([`shared`]), for deduplication: a slot's own page or object becomes shared when its
//! user finds that another block holds the same bytes ([`SlotGuard::share`]).
//!
//! The table keeps what a slot owns consistent with the memory it names: a handle is only
//! read or written under the slot's lock or with the table held exclusively; objects come
//! into a slot only from the table's own pool (checked, since two tables' objects have the
//! same type); what leaves a slot is handed back as a [`Content`] that frees its memory
//! when dropped. So the users of a table need no `unsafe` code.

mod shared;

use shared::SharedEntries;
pub(crate) use shared::{SharedRef, SpareEntry};

use crate::ext::{
    chunk_table::{ChunkTable, Exclusive, Shared, SpareChunks},
    mm::{page::PageBox, zsmalloc::ZsPool, NoIoScope},
    raw_buf::RawBuf,
    sync::{BitLock, BitLockGuard, LockdepMap},
};
use core::{cell::Cell, mem::size_of, ptr};
use kernel::{bindings, pr_warn_once, prelude::*};

// A slot's word (64 bits; see `Slot`). Bit 0 is the lock. Bit 1 set: a pool object, whose
// handle is the word with bits 0-2 cleared (zsmalloc's handles are word-aligned); bit 2 is
// the object's flag. Bit 1 clear: bits 2-3 are the kind (empty, word, page or shared) and
// bit 4 the flag; a shared slot's entry address is the word with bits 0-4 cleared (entries
// are 32-byte aligned); an empty slot, a word or a page keeps the user's value in bits
// 5-11, and the word or the page's frame number in bits 12-63. The flag is the slot's idle
// mark ([`SlotGuard::set_idle`]): every new content of a slot comes without it.

/// Bit 1: the slot holds a pool object.
const OBJECT: usize = 1 << 1;
/// The bits of an object's word that are not its handle: the lock, [`OBJECT`], the flag.
const HANDLE_LOW: usize = 0b111;
/// The idle mark of a slot that holds a pool object (bit 2).
const OBJECT_IDLE: usize = 1 << 2;
/// The idle mark of a slot that holds no pool object (bit 4).
const IDLE: usize = 1 << 4;
/// Where the kind of a slot that holds no object sits in its word (bits 2-3).
const KIND_SHIFT: u32 = 2;
/// The bits of a shared slot's word that are not its entry's address.
const ENTRY_LOW: usize = 0b1_1111;
/// Where the user's value sits in a slot's word (bits 5-11).
const VALUE_SHIFT: u32 = 5;
/// Where a word or a frame number sits in a slot's word (bits 12-63).
const PAYLOAD_SHIFT: u32 = 12;

/// The largest object a slot can hold, in bytes (its header's size field is 16 bits).
pub(crate) const MAX_OBJECT_SIZE: usize = (1 << 16) - 1;

/// Bytes that a pool object keeps before its data: the user's value and the data's size
/// (a slot has no room for them beside the handle).
pub(crate) const HEADER_BYTES: usize = 3;

// One word per slot, on 64-bit machines. A page's frame number fits bits 12-63: it has at
// most 52 bits (`static_assert` in `src/helpers.c`).
const _: () = assert!(size_of::<usize>() == 8 && size_of::<Slot>() == 8);
const _: () = assert!(usize::BITS - PAYLOAD_SHIFT == 52);

/// What a slot holds, as recorded in its word.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Empty = 0,
    Word = 1,
    Page = 2,
    Shared = 3,
    Object = 4,
}

impl Kind {
    /// The kind recorded in word `word`.
    #[inline]
    fn of(word: usize) -> Self {
        if word & OBJECT != 0 {
            return Self::Object;
        }
        match (word >> KIND_SHIFT) & 0b11 {
            1 => Self::Word,
            2 => Self::Page,
            3 => Self::Shared,
            _ => Self::Empty,
        }
    }
}

/// The bit of word `word` that is its slot's idle mark.
#[inline]
fn idle_bit(word: usize) -> usize {
    if word & OBJECT != 0 {
        OBJECT_IDLE
    } else {
        IDLE
    }
}

/// The word of a slot that holds nothing, a word or a page: `kind`, the user's `value`,
/// and `payload` (the word, or the frame number), without the lock bit.
#[inline]
fn pack(kind: Kind, value: usize, payload: usize) -> usize {
    ((kind as usize) << KIND_SHIFT)
        | ((value & ObjectTable::VALUE_MASK) << VALUE_SHIFT)
        | (payload << PAYLOAD_SHIFT)
}

/// The user's value and the data's size that a pool object keeps in its first
/// [`HEADER_BYTES`] bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    value: usize,
    size: usize,
}

impl Header {
    /// The bytes that record it (the value's low 8 bits, the size's low 16).
    fn encode(self) -> [u8; HEADER_BYTES] {
        [self.value as u8, self.size as u8, (self.size >> 8) as u8]
    }

    /// The header that `bytes` record.
    fn decode(bytes: [u8; HEADER_BYTES]) -> Self {
        Self {
            value: bytes[0] as usize,
            size: bytes[1] as usize | (bytes[2] as usize) << 8,
        }
    }
}

/// Reads the header of object `handle` of `pool`. Never sleeps.
///
/// # Safety
///
/// `handle` must be a live object of `pool`, allocated by [`ObjectTable::alloc`], that is
/// not freed or written until this returns.
unsafe fn read_header(pool: &ZsPool, handle: usize) -> Header {
    let mut bytes = [0; HEADER_BYTES];
    // SAFETY: a live object with a header (safety requirements), so its class holds at
    // least `HEADER_BYTES` bytes.
    unsafe { pool.read_into(handle, &mut bytes) };
    Header::decode(bytes)
}

/// Data to store as a pool object, in a buffer with room for the object's header before
/// it: [`ObjectTable::alloc`] and [`SlotGuard::overwrite_object`] write header and data
/// with one copy.
pub(crate) struct Framed<'a> {
    buf: &'a mut [u8],
}

impl<'a> Framed<'a> {
    /// The `len` bytes of `buf` after its first [`HEADER_BYTES`], and the rest of `buf`
    /// after them; `EINVAL` if `buf` is shorter or `len` larger than [`MAX_OBJECT_SIZE`].
    pub(crate) fn split(buf: &'a mut [u8], len: usize) -> Result<(Self, &'a mut [u8])> {
        if len > MAX_OBJECT_SIZE {
            return Err(EINVAL);
        }
        let (buf, rest) = buf.split_at_mut_checked(HEADER_BYTES + len).ok_or(EINVAL)?;
        Ok((Self { buf }, rest))
    }

    /// The length of the data.
    pub(crate) fn len(&self) -> usize {
        self.buf.len() - HEADER_BYTES
    }

    /// The data.
    pub(crate) fn data(&mut self) -> RawBuf<'_> {
        RawBuf::from(&mut self.buf[HEADER_BYTES..])
    }

    /// The data with `value`'s header before it, as an object stores them.
    fn with_header(&mut self, value: usize) -> RawBuf<'_> {
        let header = Header {
            value,
            size: self.len(),
        };
        self.buf[..HEADER_BYTES].copy_from_slice(&header.encode());
        RawBuf::from(&mut *self.buf)
    }
}

/// An object of a table's zsmalloc pool, owned, out of any slot; freed when dropped.
///
/// # Invariants
///
/// `handle` is a live object of `pool`, allocated by [`ObjectTable::alloc`], whose first
/// [`HEADER_BYTES`] record `header`, and owned by this value; its low bits
/// ([`HANDLE_LOW`]) are clear.
pub(crate) struct ZsObject<'a> {
    pool: &'a ZsPool,
    handle: usize,
    header: Header,
}

impl ZsObject<'_> {
    /// The bytes of data it holds.
    pub(crate) fn size(&self) -> usize {
        self.header.size
    }

    /// Records `value` as the user's value in its header, if it is another.
    fn set_value(&mut self, value: usize) {
        let value = value & ObjectTable::VALUE_MASK;
        if value == self.header.value {
            return;
        }
        self.header.value = value;
        let mut bytes = self.header.encode();
        // SAFETY: an owned, live object of `pool` (type invariant), which holds at least
        // its header, and which nobody else accesses.
        unsafe { self.pool.write(self.handle, &RawBuf::from(&mut bytes[..])) };
        // INVARIANT: the header records `header` again.
    }
}

impl Drop for ZsObject<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: an owned, live object of `pool` (type invariant), not used after this.
        unsafe { self.pool.free(self.handle) };
    }
}

/// What a slot holds, taken out of it or to be put in.
pub(crate) enum Content<'a> {
    /// Nothing.
    Empty,
    /// A word, kept in the slot: [`ObjectTable::MAX_WORD`] at most.
    Word(usize),
    /// A page of its own.
    Page(PageBox),
    /// An object of the table's pool.
    Object(ZsObject<'a>),
    /// A reference to a page or object of the table's that several slots share.
    Shared(SharedRef<'a>),
}

/// One slot of an [`ObjectTable`]: one word (8 bytes).
///
/// # Invariants
///
/// `word` records what the slot owns (see the layout above): nothing; a word; the frame of
/// an order-0 page from [`PageBox::into_raw`], owned by the slot; a live object of the
/// table's pool from [`ObjectTable::alloc`], owned by the slot; or a
/// [`shared::SharedEntry`] of the table's, one of whose references the slot owns
/// ([`SharedRef::into_raw`]). It is changed only with its lock held, or with the table
/// held exclusively.
pub(crate) struct Slot {
    word: BitLock,
}

impl Slot {
    /// An empty slot.
    const fn new() -> Self {
        // INVARIANT: an empty slot owns nothing.
        Self {
            word: BitLock::new(0),
        }
    }

    /// Whether the slot holds nothing, through exclusive access.
    fn is_empty_mut(&mut self) -> bool {
        Kind::of(self.word.get_mut()) == Kind::Empty
    }

    /// Takes what the slot holds, through exclusive access, leaving it empty.
    fn take_mut<'p>(&mut self, pool: &'p ZsPool, shared: &'p SharedEntries) -> Content<'p> {
        let word = self.word.get_mut();
        *self = Self::new();
        // SAFETY: the slot owned what its word says (type invariant), and no longer refers
        // to it; the table's pool and shared entries are `pool` and `shared`.
        unsafe { content_from_raw(pool, shared, word, None) }
    }
}

/// What a slot of word `word` owned, handed back; `header` is its object's header if known
/// (else it is read).
///
/// # Safety
///
/// `word` must be the word of a slot of a table whose pool and shared entries are `pool`
/// and `shared`, which owned what it records; nothing may refer to that any more. `header`, if
/// given, must be what the object's header records.
#[inline]
unsafe fn content_from_raw<'a>(
    pool: &'a ZsPool,
    shared: &'a SharedEntries,
    word: usize,
    header: Option<Header>,
) -> Content<'a> {
    match Kind::of(word) {
        Kind::Empty => Content::Empty,
        Kind::Word => Content::Word(word >> PAYLOAD_SHIFT),
        // SAFETY: an owned page from `PageBox::into_raw` (safety requirements).
        Kind::Page => Content::Page(unsafe { PageBox::from_raw(word >> PAYLOAD_SHIFT) }),
        Kind::Object => {
            let handle = word & !HANDLE_LOW;
            // SAFETY: a live object of `pool` from `ObjectTable::alloc`, owned (safety
            // requirements).
            let header = header.unwrap_or_else(|| unsafe { read_header(pool, handle) });
            // INVARIANT: as above; its header records `header`.
            Content::Object(ZsObject {
                pool,
                handle,
                header,
            })
        }
        Kind::Shared => {
            let entry = word & !ENTRY_LOW;
            // SAFETY: a reference from `SharedRef::into_raw` to an entry of `shared` over
            // `pool` (safety requirements).
            Content::Shared(unsafe { SharedRef::from_raw(shared, pool, entry) })
        }
    }
}

/// What a slot's data is in, resolved through a shared entry: a page (its frame number)
/// or an object (its handle) with its header, or a word.
#[derive(Clone, Copy)]
struct Held {
    kind: Kind,
    raw: usize,
    header: Header,
}

/// Slots per chunk of a table: a page's worth (512, with 4 KiB pages).
pub(crate) const SLOTS_PER_CHUNK: usize = bindings::PAGE_SIZE / size_of::<Slot>();

/// Allocates a chunk of empty slots. May sleep.
fn alloc_chunk() -> Result<KBox<[Slot; SLOTS_PER_CHUNK]>> {
    KBox::init(
        pin_init::init_array_from_fn(|_| Slot::new()),
        GFP_KERNEL | __GFP_NOWARN,
    )
}

/// Slot pointers for a table of a new length, allocated ahead of [`TableMut::resize`] so
/// that the resize itself does not allocate.
pub(crate) struct SpareSlots(SpareChunks<Slot, SLOTS_PER_CHUNK>);

impl SpareSlots {
    /// Room for `len` slots. May sleep.
    pub(crate) fn new(len: usize) -> Result<Self> {
        Ok(Self(SpareChunks::new(len)?))
    }

    /// The number of slots of a table resized to these.
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }
}

/// A table of `len` slots over a zsmalloc pool; see the module documentation.
///
/// # Invariants
///
/// Every slot of `slots` keeps its invariants with `pool` as the table's pool; every lock of
/// a slot is taken and released on `lock_map`.
pub(crate) struct ObjectTable {
    slots: ChunkTable<Slot, SLOTS_PER_CHUNK>,
    pool: ZsPool,
    /// The count of the shared pages and objects; none once no slot refers to one.
    shared: SharedEntries,
    lock_map: Pin<KBox<LockdepMap>>,
}

impl ObjectTable {
    /// The bits a slot keeps of its user's value (7).
    pub(crate) const VALUE_MASK: usize = (1 << (PAYLOAD_SHIFT - VALUE_SHIFT)) - 1;

    /// The largest word a slot keeps ([`Content::Word`]): 52 bits.
    pub(crate) const MAX_WORD: usize = usize::MAX >> PAYLOAD_SHIFT;

    /// Bytes of the entry of one shared page or object.
    pub(crate) const SHARED_ENTRY_BYTES: usize = shared::ENTRY_BYTES;

    /// Bytes of one chunk of slots, allocated on the first use of one of them.
    pub(crate) const CHUNK_BYTES: usize = ChunkTable::<Slot, SLOTS_PER_CHUNK>::CHUNK_BYTES;

    /// A table of `len` empty slots with a pool of its own; `name` names the pool
    /// (`zsmalloc/NAME` in debugfs) and its slots' locks for lockdep share one class. May
    /// sleep.
    pub(crate) fn new(name: &CStr, len: usize) -> Result<Self> {
        // INVARIANT: no slot holds anything yet.
        Ok(Self {
            slots: ChunkTable::new(len, c"ObjectTable::slots", kernel::static_lock_class!())?,
            pool: ZsPool::new(name)?,
            shared: SharedEntries::new(),
            lock_map: KBox::pin_init(
                LockdepMap::new(c"ObjectTable::slot.lock", kernel::static_lock_class!()),
                GFP_KERNEL,
            )?,
        })
    }

    /// The pool the objects come from.
    pub(crate) fn pool(&self) -> &ZsPool {
        &self.pool
    }

    /// The number of slots; read without locking.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// The memory of the slots, in bytes: the chunks in use and the pointers to them; read
    /// without locking.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.bytes()
    }

    /// The memory of the entries of shared pages and objects, in bytes
    /// ([`ObjectTable::SHARED_ENTRY_BYTES`] each).
    pub(crate) fn shared_bytes(&self) -> usize {
        self.shared.bytes()
    }

    /// The bytes that sharing saved: for each shared page or object, its size times its
    /// references beyond the first.
    pub(crate) fn shared_saved(&self) -> u64 {
        self.shared.saved()
    }

    /// The pages that sharing saved: the references to shared pages beyond each page's
    /// first.
    pub(crate) fn shared_saved_pages(&self) -> u64 {
        self.shared.saved_pages()
    }

    /// Allocates an object of the pool holding `data` and a header with the user's
    /// `value` (see [`ZsPool::malloc`]). `EINVAL` with a log line if zsmalloc returns a
    /// handle whose low bits are not clear, which a slot cannot keep. May sleep.
    pub(crate) fn alloc(&self, value: usize, data: &mut Framed<'_>) -> Result<ZsObject<'_>> {
        let len = HEADER_BYTES + data.len();
        let handle = self.pool.malloc(len)?;
        if handle & HANDLE_LOW != 0 {
            // SAFETY: just allocated, owned, and not used after this.
            unsafe { self.pool.free(handle) };
            pr_warn_once!("zsmalloc returned a handle {handle:#x} a slot cannot keep\n");
            return Err(EINVAL);
        }
        let value = value & Self::VALUE_MASK;
        // SAFETY: the object was just allocated for `len` bytes, the header and the data,
        // and is not shared.
        unsafe { self.pool.write(handle, &data.with_header(value)) };
        // INVARIANT: a live object of the pool, with its header, owned by nobody else; its
        // low bits are clear (checked above).
        Ok(ZsObject {
            pool: &self.pool,
            handle,
            header: Header {
                value,
                size: data.len(),
            },
        })
    }

    /// Shared use of the slots, until the returned value is dropped; waits while the table
    /// is held exclusively. May sleep, and so may the holder. Not recursive.
    ///
    /// The holder allocates as with `GFP_NOIO` (a [`NoIoScope`]): a block driver takes the
    /// read side while serving a request and the write side with its queue frozen, so
    /// reclaim started under the read side must not wait for I/O to the queue.
    #[inline]
    pub(crate) fn read(&self) -> TableRef<'_> {
        let noio = NoIoScope::enter();
        TableRef {
            slots: self.slots.read(),
            table: self,
            _noio: noio,
        }
    }

    /// Shared use, without sleeping, for atomic context: `None` while the table is held
    /// exclusively, or waited for.
    #[inline]
    pub(crate) fn try_read(&self) -> Option<TableRef<'_>> {
        let noio = NoIoScope::enter();
        Some(TableRef {
            slots: self.slots.try_read()?,
            table: self,
            _noio: noio,
        })
    }

    /// Exclusive use, to change the table as a whole; waits until no shared use is left.
    /// May sleep. The holder allocates as with `GFP_NOIO`, as under [`ObjectTable::read`].
    pub(crate) fn exclusive(&self) -> TableMut<'_> {
        let noio = NoIoScope::enter();
        TableMut {
            slots: self.slots.exclusive(),
            pool: &self.pool,
            shared: &self.shared,
            _noio: noio,
        }
    }
}

impl Drop for ObjectTable {
    fn drop(&mut self) {
        // Before the pool goes: the slots' objects are freed into it.
        let (pool, shared) = (&self.pool, &self.shared);
        self.slots
            .get_mut()
            .clear(|slot| drop(slot.take_mut(pool, shared)));
    }
}

/// Shared use of an [`ObjectTable`] (see [`ObjectTable::read`]).
pub(crate) struct TableRef<'a> {
    slots: Shared<'a, Slot, SLOTS_PER_CHUNK>,
    table: &'a ObjectTable,
    /// Ends after the read side is released (fields drop in order).
    _noio: NoIoScope,
}

impl TableRef<'_> {
    /// The first slot from `index` on whose chunk is allocated, if there is one before the
    /// end: slots in chunks never used are empty, and are skipped a subtree at a time.
    pub(crate) fn next_used(&self, index: usize) -> Option<usize> {
        self.slots.next_allocated(index)
    }

    /// Whether the chunk of slot `index` is allocated and all its slots are empty now, as
    /// after a discard: a hint that [`TableMut::trim`] would free it, which that checks
    /// again. `false` past the end.
    pub(crate) fn chunk_is_empty(&self, index: usize) -> bool {
        matches!(self.slots.chunk(index), Ok(Some(chunk))
            if chunk.iter().all(|slot| Kind::of(slot.word.peek()) == Kind::Empty))
    }

    /// Slot `index`: `ERANGE` past the end, `None` if its chunk was never used (the slot is
    /// empty).
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Result<Option<SlotRef<'_>>> {
        Ok(self.slots.get(index)?.map(|slot| SlotRef {
            slot,
            table: self.table,
        }))
    }

    /// Slot `index`, allocating its chunk if needed: `reserve` is asked first, with the
    /// chunk's size in bytes, and its error returned (a memory limit). `ERANGE` past the
    /// end. May sleep.
    #[inline]
    pub(crate) fn get_or_alloc(
        &self,
        index: usize,
        reserve: impl FnOnce(usize) -> Result,
    ) -> Result<SlotRef<'_>> {
        let slot = self.slots.get_or_alloc(index, || {
            reserve(ObjectTable::CHUNK_BYTES)?;
            alloc_chunk()
        })?;
        Ok(SlotRef {
            slot,
            table: self.table,
        })
    }
}

/// A slot of a table in shared use, to lock.
pub(crate) struct SlotRef<'a> {
    slot: &'a Slot,
    table: &'a ObjectTable,
}

impl<'a> SlotRef<'a> {
    /// Takes the slot's lock, sleeping until its holder drops it. May sleep, and so may the
    /// holder.
    #[inline]
    pub(crate) fn lock(&self) -> SlotGuard<'a> {
        SlotGuard {
            guard: self.slot.word.lock(&self.table.lock_map),
            table: self.table,
            header: Cell::new(None),
        }
    }

    /// Whether the slot holds a page or an object, its own or shared, as far as can be
    /// seen without its lock: a hint, which its holder may make stale at any moment.
    /// Never sleeps.
    #[inline]
    pub(crate) fn may_hold_data(&self) -> bool {
        matches!(
            Kind::of(self.slot.word.peek()),
            Kind::Page | Kind::Object | Kind::Shared
        )
    }

    /// Takes the slot's lock if it is free, without sleeping: for atomic context. `None` if
    /// it is held.
    #[inline]
    pub(crate) fn try_lock(&self) -> Option<SlotGuard<'a>> {
        Some(SlotGuard {
            guard: self.slot.word.try_lock(&self.table.lock_map)?,
            table: self.table,
            header: Cell::new(None),
        })
    }
}

/// A locked slot: what it holds may be read, written or replaced.
///
/// # Invariants
///
/// `guard` holds the lock of a slot of `table`. `header`, once read, is the header of the
/// slot's own object, while the slot holds it.
pub(crate) struct SlotGuard<'a> {
    guard: BitLockGuard<'a>,
    table: &'a ObjectTable,
    header: Cell<Option<Header>>,
}

impl<'a> SlotGuard<'a> {
    /// The header of the slot's own object, read once per lock.
    #[inline]
    fn object_header(&self, handle: usize) -> Header {
        if let Some(header) = self.header.get() {
            return header;
        }
        // SAFETY: the slot owns a live object of the table's pool from
        // `ObjectTable::alloc` (type invariant of `Slot`), which the lock, held, keeps from
        // being freed or written.
        let header = unsafe { read_header(&self.table.pool, handle) };
        // INVARIANT: the object's header, while the lock keeps the object in the slot.
        self.header.set(Some(header));
        header
    }

    /// What the slot's data is in: its own, or, for a shared page or object, the shared
    /// entry's.
    #[inline]
    fn held(&self) -> Held {
        let word = self.guard.get();
        let kind = Kind::of(word);
        let value = (word >> VALUE_SHIFT) & ObjectTable::VALUE_MASK;
        let (raw, header) = match kind {
            Kind::Empty => (0, Header { value, size: 0 }),
            Kind::Word => (word >> PAYLOAD_SHIFT, Header { value, size: 0 }),
            Kind::Page => (
                word >> PAYLOAD_SHIFT,
                Header {
                    value,
                    size: bindings::PAGE_SIZE,
                },
            ),
            Kind::Object => {
                let handle = word & !HANDLE_LOW;
                (handle, self.object_header(handle))
            }
            Kind::Shared => {
                if let Some(shared) = self.shared_ref() {
                    return shared.held();
                }
                (0, Header { value, size: 0 })
            }
        };
        Held { kind, raw, header }
    }

    /// The reference to a shared entry that the slot owns, if it holds one: lent, never
    /// dropped.
    #[inline]
    fn shared_ref(&self) -> Option<core::mem::ManuallyDrop<SharedRef<'a>>> {
        let word = self.guard.get();
        if Kind::of(word) != Kind::Shared {
            return None;
        }
        // SAFETY: the slot owns a reference to a shared entry of the table over its pool
        // (type invariant of `Slot`), which the lock, held, keeps; it is lent here, never
        // dropped.
        Some(core::mem::ManuallyDrop::new(unsafe {
            SharedRef::from_raw(&self.table.shared, &self.table.pool, word & !ENTRY_LOW)
        }))
    }

    /// Whether the slot is marked idle ([`SlotGuard::set_idle`]).
    #[inline]
    pub(crate) fn is_idle(&self) -> bool {
        let word = self.guard.get();
        word & idle_bit(word) != 0
    }

    /// Marks the slot idle, or clears the mark. The mark stays until it is cleared or the
    /// slot's content changes: every write of new content clears it. Costs a store only
    /// when the mark changes.
    #[inline]
    pub(crate) fn set_idle(&mut self, idle: bool) {
        let word = self.guard.get();
        let bit = idle_bit(word);
        if (word & bit != 0) != idle {
            self.guard.replace(word ^ bit);
        }
    }

    /// Whether the slot's data is a page, its own or a shared entry's: one that
    /// [`SlotGuard::copy_to`] copies with no local copy buffer.
    #[inline]
    pub(crate) fn holds_page(&self) -> bool {
        self.held().kind == Kind::Page
    }

    /// Whether the slot holds a reference to a page or object that slots share.
    #[inline]
    pub(crate) fn is_shared(&self) -> bool {
        Kind::of(self.guard.get()) == Kind::Shared
    }

    /// Whether the slot holds a reference to a page or object that other slots refer to
    /// too: `false` for one of its own, and for a shared one whose other references were
    /// dropped (it is freed with the slot's). Stays so while the slot is locked: a new
    /// reference is only taken from a held one.
    pub(crate) fn shares_with_others(&self) -> bool {
        self.shared_ref().is_some_and(|shared| shared.has_others())
    }

    /// The user's value (see [`ObjectTable::VALUE_MASK`]).
    #[inline]
    pub(crate) fn value(&self) -> usize {
        self.held().header.value
    }

    /// The size of the slot's object in bytes, shared or not; a page's size for a page, 0
    /// for an empty slot or a word.
    #[inline]
    pub(crate) fn size(&self) -> usize {
        self.held().header.size
    }

    /// The slot's word; `EINVAL` if it holds something else.
    #[inline]
    pub(crate) fn word(&self) -> Result<usize> {
        let word = self.guard.get();
        match Kind::of(word) {
            Kind::Word => Ok(word >> PAYLOAD_SHIFT),
            _ => Err(EINVAL),
        }
    }

    /// Whether the slot's page or object, its own or a shared one, holds the bytes of
    /// `data`: a page the whole of `data`, an object as many bytes as `data`, and the same
    /// ones; `false` for an empty slot or a word. `local_copy` as for [`SlotGuard::read`];
    /// `EINVAL` if it is too short. Never sleeps.
    pub(crate) fn same_bytes(&self, data: &RawBuf<'_>, local_copy: &mut [u8]) -> Result<bool> {
        let held = self.held();
        // SAFETY: the slot owns the page or object, or a reference to a shared entry that
        // owns it and never writes it (type invariants of `Slot` and `SharedEntry`); the
        // lock, held, keeps it from being freed or written until this returns.
        unsafe { shared::same_bytes(&self.table.pool, held, data, local_copy) }
    }

    /// Another reference to the slot's page or object, shared: one more to the shared
    /// entry the slot refers to, or, for a page or object of its own, one to a new entry,
    /// taken from `spare`, that takes it over while the slot keeps the other reference
    /// with its value. The slot loses its idle mark then, as with any new content, so that
    /// a writeback or recompression that copied it before lets it be. `EINVAL`, with
    /// nothing changed, if the slot holds nothing or a word, or needs `spare` and it is
    /// `None`; `EOVERFLOW` if the entry has all the references it can count. Never sleeps.
    pub(crate) fn share(&mut self, spare: &mut Option<SpareEntry>) -> Result<SharedRef<'a>> {
        let word = self.guard.get();
        match Kind::of(word) {
            Kind::Shared => self.shared_ref().ok_or(EINVAL)?.try_clone(),
            Kind::Page | Kind::Object => {
                let entry = spare.take().ok_or(EINVAL)?;
                let value = self.value();
                let own = self.replace(value, Content::Empty)?;
                let table = self.table;
                match table.shared.make(&table.pool, entry, value, own) {
                    Ok([slot, other]) => {
                        // Same value: cannot fail; the slot is empty, nothing comes back.
                        drop(self.replace(value, Content::Shared(slot))?);
                        Ok(other)
                    }
                    Err(own) => {
                        // What the slot held, back where it was.
                        drop(self.replace(value, own)?);
                        Err(EINVAL)
                    }
                }
            }
            Kind::Empty | Kind::Word => Err(EINVAL),
        }
    }

    /// Runs `f` on the slot's object's data, mapped in place, or copied into `local_copy`
    /// where it spans two pages (see [`ZsPool::read_with`]); the data is read only after
    /// its header. `f` must not sleep. `EINVAL` without calling `f` if the slot holds no
    /// object of the pool, or `local_copy` is shorter than the object.
    #[inline]
    pub(crate) fn read<R>(&self, local_copy: &mut [u8], f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let held = self.held();
        if held.kind != Kind::Object {
            return Err(EINVAL);
        }
        let len = HEADER_BYTES + held.header.size;
        // The slot owns a live object of the table's pool of `len` bytes, or a reference
        // to a shared entry that owns one and never writes it (type invariants of `Slot`,
        // `SharedEntry` and `ZsObject`).
        // SAFETY: as above; the lock, held, keeps it from being freed or written.
        unsafe {
            self.table
                .pool
                .read_with(held.raw, len, local_copy, |bytes| f(&bytes[HEADER_BYTES..]))
        }
    }

    /// Copies the slot's page, or its object of `dst.len()` bytes, into `dst` (`local_copy`
    /// as for [`SlotGuard::read`]); `EINVAL` if it holds neither, or a size other than
    /// `dst`'s.
    #[inline]
    pub(crate) fn copy_to(&self, dst: &mut RawBuf<'_>, local_copy: &mut [u8]) -> Result {
        let held = self.held();
        match held.kind {
            // SAFETY: the slot owns the page, or a reference to a shared entry that owns it
            // and never writes it (type invariants of `Slot` and `SharedEntry`); the lock,
            // held, keeps it from being freed or written.
            Kind::Page => unsafe { PageBox::read_raw(held.raw, dst) },
            Kind::Object if held.header.size == dst.len() => {
                self.read(local_copy, |src| dst.copy_from_slice(src))?
            }
            _ => Err(EINVAL),
        }
    }

    /// Writes `data`, a page's worth, over the slot's own page, in place, and records
    /// `value`: returns the value and size the slot had, or `None`, with nothing changed,
    /// if the slot holds no page of its own or `data` is not a page long.
    #[inline]
    pub(crate) fn overwrite_page(
        &mut self,
        value: usize,
        data: &RawBuf<'_>,
    ) -> Result<Option<(usize, usize)>> {
        let word = self.guard.get();
        if Kind::of(word) != Kind::Page || data.len() != bindings::PAGE_SIZE {
            return Ok(None);
        }
        let old = (self.value(), bindings::PAGE_SIZE);
        let raw = word >> PAYLOAD_SHIFT;
        // SAFETY: the slot owns the page (type invariant of `Slot`); the lock, held, keeps
        // every other user out.
        unsafe { PageBox::write_raw(raw, data) }?;
        self.guard.replace(pack(Kind::Page, value, raw));
        Ok(Some(old))
    }

    /// Writes `data` over the slot's own object, in place, and records `value`, if it fits
    /// there: a size of the same zsmalloc class ([`ZsPool::class_index`]). Returns the
    /// value and size the slot had, or `None`, with nothing changed, if the slot holds no
    /// object of its own that can take it.
    #[inline]
    pub(crate) fn overwrite_object(
        &mut self,
        value: usize,
        data: &mut Framed<'_>,
    ) -> Result<Option<(usize, usize)>> {
        let word = self.guard.get();
        if Kind::of(word) != Kind::Object {
            return Ok(None);
        }
        let handle = word & !HANDLE_LOW;
        let old = self.object_header(handle);
        let pool = &self.table.pool;
        if pool.class_index(HEADER_BYTES + data.len()) != pool.class_index(HEADER_BYTES + old.size)
        {
            return Ok(None);
        }
        let value = value & ObjectTable::VALUE_MASK;
        // SAFETY: the slot owns a live object of the pool whose class holds the header and
        // `data` (checked above); the lock, held, keeps every other user out.
        unsafe { pool.write(handle, &data.with_header(value)) };
        // INVARIANT: the object's new header.
        self.header.set(Some(Header {
            value,
            size: data.len(),
        }));
        // New content: the idle mark goes, as with every other write.
        self.set_idle(false);
        Ok(Some((old.value, old.size)))
    }

    /// Puts `content` in the slot with `value`, and returns what it held. `EINVAL`, with
    /// the slot unchanged and `content` dropped, for an object of another table's pool, a
    /// word larger than [`ObjectTable::MAX_WORD`], or a shared reference whose value is not
    /// `value`.
    #[inline]
    pub(crate) fn replace(&mut self, value: usize, content: Content<'_>) -> Result<Content<'a>> {
        let (word, header) = match content {
            Content::Empty => (pack(Kind::Empty, value, 0), None),
            Content::Word(word) if word <= ObjectTable::MAX_WORD => {
                (pack(Kind::Word, value, word), None)
            }
            Content::Word(_) => return Err(EINVAL),
            Content::Page(page) => (pack(Kind::Page, value, page.into_raw()), None),
            Content::Object(mut object) => {
                if !ptr::eq(object.pool, &self.table.pool) {
                    pr_warn!("an object of another table's pool was refused\n");
                    return Err(EINVAL);
                }
                object.set_value(value);
                let (handle, header) = (object.handle, object.header);
                // The slot owns it from now on.
                core::mem::forget(object);
                (handle | OBJECT, Some(header))
            }
            Content::Shared(shared) => {
                if !ptr::eq(shared.entries, &self.table.shared) {
                    pr_warn!("a shared object of another table was refused\n");
                    return Err(EINVAL);
                }
                if shared.value() != value & ObjectTable::VALUE_MASK {
                    return Err(EINVAL);
                }
                (
                    shared.into_raw() | ((Kind::Shared as usize) << KIND_SHIFT),
                    None,
                )
            }
        };
        // INVARIANT: the slot now owns what `content` owned, as its new word records, and
        // `header` is its object's header, if it is an object; the old content is handed
        // back below.
        let old_header = self.header.replace(header);
        let old_word = self.guard.replace(word);
        // SAFETY: the slot owned what `old_word` records, and no longer refers to it;
        // `old_header` is its object's header if read; the table's pool and shared entries are
        // `self.table`'s.
        Ok(unsafe { content_from_raw(&self.table.pool, &self.table.shared, old_word, old_header) })
    }
}

/// Exclusive use of an [`ObjectTable`] (see [`ObjectTable::exclusive`]).
pub(crate) struct TableMut<'a> {
    slots: Exclusive<'a, Slot, SLOTS_PER_CHUNK>,
    pool: &'a ZsPool,
    shared: &'a SharedEntries,
    /// Ends after the write side is released (fields drop in order).
    _noio: NoIoScope,
}

impl TableMut<'_> {
    /// The first slot from `start` on that holds something, if any.
    pub(crate) fn first_used_from(&mut self, start: usize) -> Option<usize> {
        let mut found = None;
        // `Err` only stops the walk at the first slot found.
        let _ = self.slots.try_for_each_chunk(|first, chunk| {
            let skip = start.saturating_sub(first).min(SLOTS_PER_CHUNK);
            match chunk[skip..].iter_mut().position(|s| !s.is_empty_mut()) {
                Some(i) => {
                    found = Some(first + skip + i);
                    Err(EBUSY)
                }
                None => Ok(()),
            }
        });
        found
    }

    /// Gives the table `spare`'s length; slots keep their index and content. Slots past
    /// the new end are emptied, their objects freed: check [`TableMut::first_used_from`]
    /// first to keep them.
    pub(crate) fn resize(&mut self, spare: SpareSlots) {
        let len = spare.len();
        let (pool, shared) = (self.pool, self.shared);
        // Slots past the new end in the chunk that holds it would otherwise stay, unseen,
        // until the table grows again; the chunks wholly past it are dropped below.
        let _ = self.slots.try_for_each_chunk(|first, chunk| {
            let skip = len.saturating_sub(first).min(SLOTS_PER_CHUNK);
            chunk[skip..]
                .iter_mut()
                .for_each(|slot| drop(slot.take_mut(pool, shared)));
            Ok(())
        });
        self.slots.resize(spare.0);
    }

    /// Frees the chunks whose slots are all empty; returns how many.
    pub(crate) fn trim(&mut self) -> usize {
        self.slots
            .free_chunks_where(|chunk| chunk.iter_mut().all(Slot::is_empty_mut))
    }

    /// Empties every slot, freeing what it holds, and frees every chunk.
    pub(crate) fn clear(&mut self) {
        let (pool, shared) = (self.pool, self.shared);
        self.slots.clear(|slot| drop(slot.take_mut(pool, shared)));
    }
}

#[kernel::prelude::kunit_tests(foxramdisk_object_table)]
mod tests {
    use super::*;

    /// An object of `table` holding `data`, with `value`.
    fn object_of<'a>(table: &'a ObjectTable, value: usize, data: &[u8]) -> Result<ZsObject<'a>> {
        let mut buf = KVec::from_elem(0u8, HEADER_BYTES + data.len(), GFP_KERNEL)?;
        buf[HEADER_BYTES..].copy_from_slice(data);
        table.alloc(value, &mut Framed::split(&mut buf, data.len())?.0)
    }

    /// `len` bytes of `byte`, framed in `buf`.
    fn framed(buf: &mut [u8], byte: u8, len: usize) -> Result<Framed<'_>> {
        buf.iter_mut().for_each(|b| *b = byte);
        Ok(Framed::split(buf, len)?.0)
    }

    #[test]
    fn slots_own_and_hand_back_what_they_hold() -> Result {
        let table = ObjectTable::new(c"foxramdisk-kunit-objects", 600)?;
        let other = ObjectTable::new(c"foxramdisk-kunit-objects-2", 1)?;
        let data = KVec::from_elem(7u8, 100, GFP_KERNEL)?;
        let mut buf = KVec::from_elem(0u8, HEADER_BYTES + 3000, GFP_KERNEL)?;
        let mut back = KVec::from_elem(0u8, bindings::PAGE_SIZE, GFP_KERNEL)?;
        assert_eq!(size_of::<Slot>(), 8);
        {
            let slots = table.read();
            assert!(slots.get(5)?.is_none());
            assert_eq!(slots.get(600).err(), Some(ERANGE));
            // The reservation may refuse a chunk.
            assert_eq!(slots.get_or_alloc(5, |_| Err(ENOSPC)).err(), Some(ENOSPC));
            let slot = slots.get_or_alloc(5, |bytes| {
                assert_eq!(bytes, ObjectTable::CHUNK_BYTES);
                Ok(())
            })?;
            let mut guard = slot.lock();
            assert_eq!((guard.value(), guard.size()), (0, 0));
            // The object's value is rewritten in its header when the slot's differs.
            let object = object_of(&table, 1, &data)?;
            assert!(matches!(
                guard.replace(9, Content::Object(object))?,
                Content::Empty
            ));
            assert_eq!((guard.value(), guard.size()), (9, 100));
            let copied = guard.read(&mut back, |src| {
                src.len() == 100 && src.iter().all(|&b| b == 7)
            })?;
            assert!(copied);
            // The local copy must take the header and the data.
            assert_eq!(guard.read(&mut back[..100], |_| ()).err(), Some(EINVAL));
            // In place: the same class only.
            assert_eq!(
                guard.overwrite_object(10, &mut framed(&mut buf, 8, 99)?)?,
                Some((9, 100))
            );
            assert_eq!((guard.value(), guard.size()), (10, 99));
            assert_eq!(
                guard.overwrite_object(11, &mut framed(&mut buf, 1, 3000)?)?,
                None
            );
            assert_eq!(
                guard.overwrite_page(11, &RawBuf::from(&mut back[..]))?,
                None
            );
            assert_eq!(guard.value(), 10);
            // Locked again, the value and size come from the object's header.
            drop(guard);
            let mut guard = slot.lock();
            assert_eq!((guard.value(), guard.size()), (10, 99));
            let copied = guard.read(&mut back, |src| src.iter().all(|&b| b == 8))?;
            assert!(copied);
            // An object of another table's pool is refused, the slot unchanged.
            let foreign = object_of(&other, 1, &data)?;
            assert!(guard.replace(1, Content::Object(foreign)).is_err());
            assert_eq!((guard.value(), guard.size()), (10, 99));
            // A word; the object comes back, of its size, and is freed when dropped.
            assert_eq!(
                guard
                    .replace(3, Content::Word(ObjectTable::MAX_WORD + 1))
                    .err(),
                Some(EINVAL)
            );
            match guard.replace(3, Content::Word(ObjectTable::MAX_WORD))? {
                Content::Object(object) => assert_eq!(object.size(), 99),
                _ => return Err(EINVAL),
            }
            assert_eq!(guard.word()?, ObjectTable::MAX_WORD);
            assert_eq!(guard.value(), 3);
            assert!(matches!(
                guard.replace(3, Content::Word(0x5a5a))?,
                Content::Word(ObjectTable::MAX_WORD)
            ));
            assert_eq!(guard.word()?, 0x5a5a);
            assert_eq!(guard.read(&mut back, |_| ()).err(), Some(EINVAL));
            // A page.
            let page = PageBox::alloc()?;
            assert!(matches!(
                guard.replace(4, Content::Page(page))?,
                Content::Word(0x5a5a)
            ));
            assert_eq!((guard.value(), guard.size()), (4, bindings::PAGE_SIZE));
            back.iter_mut().for_each(|b| *b = 0x11);
            assert_eq!(
                guard.overwrite_page(5, &RawBuf::from(&mut back[..]))?,
                Some((4, bindings::PAGE_SIZE))
            );
            assert_eq!(guard.value(), 5);
            assert_eq!(
                guard.overwrite_object(5, &mut framed(&mut buf, 1, 10)?)?,
                None
            );
            let mut out = KVec::from_elem(0u8, bindings::PAGE_SIZE, GFP_KERNEL)?;
            guard.copy_to(&mut RawBuf::from(&mut out[..]), &mut [])?;
            assert!(out.iter().all(|&b| b == 0x11));
            // The lock is held: nobody else gets it without waiting.
            assert!(slot.try_lock().is_none());
        }
        // Allocated before the table is held, as a resize's caller does.
        let spare = SpareSlots::new(5)?;
        let mut view = table.exclusive();
        // Slot 5 holds a page: shrinking to 5 would free it.
        assert_eq!(view.first_used_from(5), Some(5));
        assert_eq!(view.first_used_from(6), None);
        // Chunks holding only empty slots go; this one holds the page.
        assert_eq!(view.trim(), 0);
        view.resize(spare);
        assert_eq!(view.first_used_from(0), None);
        assert_eq!(view.trim(), 1);
        drop(view);
        assert_eq!(table.len(), 5);
        assert_eq!(table.bytes(), size_of::<usize>());
        Ok(())
    }

    #[test]
    fn the_idle_mark_stays_until_new_content() -> Result {
        let table = ObjectTable::new(c"foxramdisk-kunit-idle", 4)?;
        let data = [5u8; 100];
        let mut buf = KVec::from_elem(0u8, HEADER_BYTES + 200, GFP_KERNEL)?;
        let mut local = KVec::from_elem(0u8, bindings::PAGE_SIZE, GFP_KERNEL)?;
        let slots = table.read();
        let slot = slots.get_or_alloc(2, |_| Ok(()))?;
        let mut guard = slot.lock();
        // Marked and unmarked, on each kind of slot, with what it holds unchanged.
        let check_mark = |guard: &mut SlotGuard<'_>, value: usize, size: usize| {
            assert!(!guard.is_idle());
            guard.set_idle(true);
            assert!(guard.is_idle());
            assert_eq!((guard.value(), guard.size()), (value, size));
            guard.set_idle(true);
            assert!(guard.is_idle());
            guard.set_idle(false);
            assert!(!guard.is_idle());
            guard.set_idle(true);
        };
        check_mark(&mut guard, 0, 0);
        drop(guard.replace(6, Content::Word(0x77))?);
        check_mark(&mut guard, 6, 0);
        assert_eq!(guard.word()?, 0x77);
        drop(guard.replace(2, Content::Page(PageBox::alloc()?))?);
        check_mark(&mut guard, 2, bindings::PAGE_SIZE);
        drop(guard.replace(9, Content::Object(object_of(&table, 9, &data)?))?);
        check_mark(&mut guard, 9, 100);
        assert!(guard.read(&mut local, |src| src == data)?);
        // Written in place: new content, no mark.
        assert!(guard
            .overwrite_object(8, &mut framed(&mut buf, 1, 101)?)?
            .is_some());
        assert!(!guard.is_idle());
        assert_eq!((guard.value(), guard.size()), (8, 101));
        // A shared object: the mark is the slot's, not the object's; sharing the slot's
        // own object takes the mark off, as new content.
        guard.set_idle(true);
        drop(guard.replace(7, Content::Object(object_of(&table, 0, &data)?))?);
        guard.set_idle(true);
        let other = guard.share(&mut Some(SpareEntry::new()?))?;
        assert!(guard.is_shared() && !guard.is_idle());
        check_mark(&mut guard, 7, 100);
        assert!(guard.read(&mut local, |src| src == data)?);
        drop(other);
        drop(guard.replace(0, Content::Empty)?);
        assert!(!guard.is_shared() && !guard.is_idle());
        Ok(())
    }

    #[test]
    fn shared_objects_live_until_their_last_reference() -> Result {
        let table = ObjectTable::new(c"foxramdisk-kunit-shared", 8)?;
        let mut data = KVec::from_elem(3u8, 100, GFP_KERNEL)?;
        let mut local = KVec::from_elem(0u8, bindings::PAGE_SIZE, GFP_KERNEL)?;
        let slots = table.read();
        let slot = |i| slots.get_or_alloc(i, |_| Ok(()));
        // An empty slot and a word cannot be shared; nothing is used or changed.
        let mut spare = Some(SpareEntry::new()?);
        assert_eq!(slot(0)?.lock().share(&mut spare).err(), Some(EINVAL));
        drop(slot(0)?.lock().replace(5, Content::Word(9))?);
        assert_eq!(slot(0)?.lock().share(&mut spare).err(), Some(EINVAL));
        assert!(spare.is_some());
        assert_eq!(slot(0)?.lock().word()?, 9);
        // A slot's own object, shared: the slot keeps a reference with its value, and
        // holds the same bytes as before; another reference counts what it saved.
        drop(
            slot(1)?
                .lock()
                .replace(7, Content::Object(object_of(&table, 0, &data)?))?,
        );
        let first = {
            let mut guard = slot(1)?.lock();
            assert!(!guard.is_shared());
            assert!(guard.same_bytes(&RawBuf::from(&mut data[..]), &mut local)?);
            let first = guard.share(&mut spare)?;
            assert!(spare.is_none() && guard.is_shared());
            assert_eq!((guard.value(), guard.size()), (7, 100));
            assert!(guard.same_bytes(&RawBuf::from(&mut data[..]), &mut local)?);
            assert!(!guard.same_bytes(&RawBuf::from(&mut data[..99]), &mut local)?);
            data[50] = 4;
            assert!(!guard.same_bytes(&RawBuf::from(&mut data[..]), &mut local)?);
            data[50] = 3;
            // A shared slot needs no spare for one more reference.
            let second = guard.share(&mut None)?;
            assert_eq!(table.shared_saved(), 200);
            drop(second);
            first
        };
        assert_eq!(first.value(), 7);
        assert_eq!(table.shared_bytes(), ObjectTable::SHARED_ENTRY_BYTES);
        assert_eq!(table.shared_saved(), 100);
        // In another slot, the reference reads as the object.
        {
            let mut guard = slot(2)?.lock();
            // Its value is the one it was shared with.
            let extra = first.try_clone()?;
            assert_eq!(guard.replace(2, Content::Shared(extra)).err(), Some(EINVAL));
            assert!(matches!(
                guard.replace(7, Content::Shared(first.try_clone()?))?,
                Content::Empty
            ));
            assert_eq!((guard.value(), guard.size()), (7, 100));
            assert!(guard.read(&mut local, |src| src == &data[..])?);
            // Shared objects are never written in place.
            let mut buf = KVec::from_elem(0u8, HEADER_BYTES + 100, GFP_KERNEL)?;
            assert_eq!(
                guard.overwrite_object(3, &mut framed(&mut buf, 6, 100)?)?,
                None
            );
            assert_eq!(table.shared_saved(), 200);
            drop(guard.replace(0, Content::Empty)?);
            assert_eq!(table.shared_saved(), 100);
        }
        // A page of its own is shared the same way.
        let mut page = PageBox::alloc()?;
        let mut bytes = KVec::from_elem(0xa5u8, bindings::PAGE_SIZE, GFP_KERNEL)?;
        page.write(&RawBuf::from(&mut bytes[..]))?;
        drop(slot(3)?.lock().replace(1, Content::Page(page))?);
        let page_ref = slot(3)?.lock().share(&mut Some(SpareEntry::new()?))?;
        assert!(slot(3)?
            .lock()
            .same_bytes(&RawBuf::from(&mut bytes[..]), &mut [])?);
        assert_eq!(table.shared_saved_pages(), 1);
        drop(page_ref);
        assert_eq!(table.shared_saved_pages(), 0);
        drop(slot(3)?.lock().replace(0, Content::Empty)?);
        // The slot's reference goes last: it frees the object and the entry.
        drop(first);
        assert_eq!(table.shared_bytes(), ObjectTable::SHARED_ENTRY_BYTES);
        drop(slot(1)?.lock().replace(0, Content::Empty)?);
        assert_eq!(table.shared_bytes(), 0);
        assert_eq!(table.shared_saved(), 0);
        drop(slot(0)?.lock().replace(0, Content::Empty)?);
        assert_eq!(table.pool().total_pages(), 0);
        Ok(())
    }
}
