// SPDX-License-Identifier: GPL-2.0

//! A sparse table of entries, allocated a chunk at a time on first use.
//!
//! A [`ChunkTable`] of `len` entries of type `T` is a radix tree: chunks of `N` entries
//! at the bottom, index nodes of [`FANOUT`] pointers above them, and a root of as many
//! pointers as the top level needs (at most [`FANOUT`]). Nothing below the root is
//! allocated until an entry under it is first needed ([`Shared::get_or_alloc`]): until
//! then, [`Shared::get`] finds no entry there. So memory grows with the entries used, not
//! with `len`: a table of 2^38 entries (a petabyte of 4 KiB blocks) costs a root of 8
//! pointers, and one entry used adds one chunk and the index nodes above it.
//!
//! Lookups and allocations run concurrently under the read side of the table's
//! [`PercpuRwSem`], which costs a reader a per-CPU counter: a node or chunk is installed
//! once, with a compare-and-exchange, and stays until the table is changed as a whole
//! (resized, trimmed, emptied) through an [`Exclusive`] view, which holds the write side.

use crate::ext::sync::{PercpuReadGuard, PercpuRwSem, PercpuWriteGuard};
use core::{mem::size_of, ptr};
use kernel::{
    alloc::KVVec,
    bindings,
    prelude::*,
    str::CStr,
    sync::{
        atomic::{Acquire, Atomic, Full, Relaxed},
        LockClassKey,
    }, //
};

/// Pointers per index node: a page of them (512 with 4 KiB pages).
pub(crate) const FANOUT: usize = bindings::PAGE_SIZE / size_of::<usize>();
/// `log2(FANOUT)`.
const FANOUT_SHIFT: u32 = FANOUT.trailing_zeros();
const _: () = assert!(FANOUT.is_power_of_two());

/// A pointer of the tree: to an index node, to a chunk at the lowest level, or null.
type Link = Atomic<*mut u8>;

/// An index node.
type Node = [Link; FANOUT];

/// Bytes of an index node.
const NODE_BYTES: usize = size_of::<Node>();

/// Allocates an index node of null pointers. May sleep.
fn alloc_node() -> Result<KBox<Node>> {
    KBox::init(
        pin_init::init_array_from_fn(|_| Atomic::new(ptr::null_mut())),
        GFP_KERNEL | __GFP_NOWARN,
    )
}

/// Null pointers, `count` of them, for a root. May sleep.
fn null_links(count: usize) -> Result<KVVec<Link>> {
    let mut links = KVVec::with_capacity(count, GFP_KERNEL | __GFP_NOWARN)?;
    for _ in 0..count {
        // Cannot fail: the capacity is reserved above.
        links.push(Atomic::new(ptr::null_mut()), GFP_KERNEL)?;
    }
    Ok(links)
}

/// The shape of a tree for `len` entries in chunks of `n`: its number of index levels
/// (the root included) and the length of its root.
fn shape(len: usize, n: usize) -> (u32, usize) {
    let chunks = len.div_ceil(n).max(1);
    let mut depth = 1;
    while chunks.div_ceil(1 << (FANOUT_SHIFT * (depth - 1))) > FANOUT {
        depth += 1;
    }
    (depth, chunks.div_ceil(1 << (FANOUT_SHIFT * (depth - 1))))
}

/// The index nodes and chunks of a tree, under its lock.
///
/// # Invariants
///
/// `root` has the length [`shape`] gives for the table's length, and `depth` levels: a
/// non-null pointer of the root or of a node at level `l > 1` (the root is level `depth`)
/// points to an index node, and one at level 1 to a chunk `[T; N]`; each came from
/// `KBox::into_raw` and is owned by the tree.
struct Tree<T, const N: usize> {
    root: KVVec<Link>,
    depth: u32,
    _chunks: core::marker::PhantomData<KBox<[T; N]>>,
}

/// Takes back a chunk the tree owned.
///
/// # Safety
///
/// `p` must be a chunk pointer of a tree (level 1), owned by the caller.
unsafe fn chunk_from_raw<T, const N: usize>(p: *mut u8) -> KBox<[T; N]> {
    // SAFETY: guaranteed by the caller.
    unsafe { KBox::from_raw(p.cast::<[T; N]>()) }
}

/// Takes back an index node the tree owned.
///
/// # Safety
///
/// `p` must be a node pointer of a tree (level above 1), owned by the caller.
unsafe fn node_from_raw(p: *mut u8) -> KBox<Node> {
    // SAFETY: guaranteed by the caller.
    unsafe { KBox::from_raw(p.cast::<Node>()) }
}

/// What [`free_subtree`] freed.
#[derive(Default)]
struct Freed {
    chunks: usize,
    nodes: usize,
}

/// Frees the subtree under `p`, a pointer of level `level`, calling `f` on each entry of
/// each chunk first.
///
/// # Safety
///
/// `p` must be null or a pointer of level `level` of a tree, owned by the caller.
unsafe fn free_subtree<T, const N: usize>(
    p: *mut u8,
    level: u32,
    f: &mut impl FnMut(&mut T),
    freed: &mut Freed,
) {
    if p.is_null() {
        return;
    }
    if level == 1 {
        // SAFETY: a chunk of the tree, owned (safety requirements).
        let mut chunk = unsafe { chunk_from_raw::<T, N>(p) };
        chunk.iter_mut().for_each(&mut *f);
        freed.chunks += 1;
        return;
    }
    // SAFETY: an index node of the tree, owned (safety requirements).
    let mut node = unsafe { node_from_raw(p) };
    for link in node.iter_mut() {
        // SAFETY: a pointer of the level below, owned through the node, taken once.
        unsafe { free_subtree::<T, N>(*link.get_mut(), level - 1, f, freed) };
    }
    freed.nodes += 1;
}

/// The sizes of a table, readable without its lock.
struct Counts {
    /// Entries.
    len: Atomic<usize>,
    /// Chunks allocated.
    chunks: Atomic<usize>,
    /// Index nodes allocated below the root.
    nodes: Atomic<usize>,
    /// Pointers of the root.
    root_len: Atomic<usize>,
}

/// A table of `len` entries of type `T`, in chunks of `N` allocated on first use.
///
/// # Invariants
///
/// - `tree` is the tree of a table of `counts.len` entries. While it is shared (read
///   side), a pointer of it only goes from null to a node or chunk, once; it changes
///   otherwise only through an [`Exclusive`] view.
/// - `counts` holds the number of chunks and index nodes of the tree and its root's
///   length; they change only where the tree does.
pub(crate) struct ChunkTable<T, const N: usize> {
    tree: PercpuRwSem<Tree<T, N>>,
    counts: Counts,
}

// Shared use reads pointers, installs nodes and chunks atomically and hands out shared
// references to entries (hence `T: Sync`); any thread may take the write side, which
// excludes every other user, and reach entries mutably or drop them (hence `T: Send`).
// SAFETY: as above, every access to the tree is an atomic install or under its lock.
unsafe impl<T: Send + Sync, const N: usize> Sync for ChunkTable<T, N> {}

// SAFETY: the table owns its chunks, whose entries are `Send`.
unsafe impl<T: Send, const N: usize> Send for ChunkTable<T, N> {}

impl<T, const N: usize> ChunkTable<T, N> {
    /// Bytes of one chunk.
    pub(crate) const CHUNK_BYTES: usize = size_of::<[T; N]>();

    /// A table of `len` entries, with a root and nothing below; its lock is named `name`
    /// for lockdep, in the class `key` (`kernel::static_lock_class!()` of its user). May
    /// sleep.
    pub(crate) fn new(
        len: usize,
        name: &'static CStr,
        key: Pin<&'static LockClassKey>,
    ) -> Result<Self> {
        const { assert!(N > 0) };
        let (depth, root_len) = shape(len, N);
        // INVARIANT: the shape for `len`, all null.
        Ok(Self {
            tree: PercpuRwSem::new(
                Tree {
                    root: null_links(root_len)?,
                    depth,
                    _chunks: core::marker::PhantomData,
                },
                name,
                key,
            )?,
            counts: Counts {
                len: Atomic::new(len),
                chunks: Atomic::new(0),
                nodes: Atomic::new(0),
                root_len: Atomic::new(root_len),
            },
        })
    }

    /// Shared use of the table: lookups and chunk allocations, until the returned value is
    /// dropped; waits while an [`Exclusive`] view lives. May sleep, and so may the holder.
    /// Not recursive: a task holding one must not take another, since a waiting
    /// [`ChunkTable::exclusive`] would keep it waiting.
    #[inline]
    pub(crate) fn read(&self) -> Shared<'_, T, N> {
        Shared {
            tree: self.tree.read(),
            counts: &self.counts,
        }
    }

    /// Shared use as with [`ChunkTable::read`], without sleeping, for atomic context: `None`
    /// while an [`Exclusive`] view lives or waits.
    #[inline]
    pub(crate) fn try_read(&self) -> Option<Shared<'_, T, N>> {
        Some(Shared {
            tree: self.tree.try_read()?,
            counts: &self.counts,
        })
    }

    /// A view of the table that can change it as a whole: waits until no [`Shared`] use is
    /// left, and keeps new ones waiting until it is dropped (an RCU grace period at least).
    /// May sleep.
    pub(crate) fn exclusive(&self) -> Exclusive<'_, T, N> {
        Exclusive {
            tree: TreeMut::Locked(self.tree.write()),
            counts: &self.counts,
        }
    }

    /// A view of the table that can change it as a whole, through a unique reference.
    pub(crate) fn get_mut(&mut self) -> Exclusive<'_, T, N> {
        Exclusive {
            tree: TreeMut::Unique(self.tree.get_mut()),
            counts: &self.counts,
        }
    }

    /// The number of entries; may be read at any time, without locking.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.counts.len.load(Relaxed)
    }

    /// The number of allocated chunks; may be read at any time, without locking.
    pub(crate) fn allocated(&self) -> usize {
        self.counts.chunks.load(Relaxed)
    }

    /// The memory the table holds, in bytes: its chunks, its index nodes and its root; may
    /// be read at any time, without locking.
    pub(crate) fn bytes(&self) -> usize {
        self.allocated() * Self::CHUNK_BYTES
            + self.counts.nodes.load(Relaxed) * NODE_BYTES
            + self.counts.root_len.load(Relaxed) * size_of::<Link>()
    }
}

impl<T, const N: usize> Drop for ChunkTable<T, N> {
    fn drop(&mut self) {
        // The entries are dropped with their chunks.
        self.get_mut().clear(|_| {});
    }
}

/// The slot, at the level `level` (the root is level `depth`), of chunk number `chunk`.
#[inline]
fn link_index(chunk: usize, level: u32) -> usize {
    (chunk >> (FANOUT_SHIFT * (level - 1))) & (FANOUT - 1)
}

/// The first allocated chunk numbered `from` or more under `p`, a pointer of level `level`
/// above chunk number `base`.
///
/// # Safety
///
/// `p` must be null or a pointer of level `level` of a tree whose read side the caller
/// holds.
unsafe fn first_chunk_from<T, const N: usize>(
    p: *mut u8,
    level: u32,
    base: usize,
    from: usize,
) -> Option<usize> {
    if p.is_null() {
        return None;
    }
    if level == 1 {
        return Some(base);
    }
    // SAFETY: an index node of the tree, which stays while the read side is held (safety
    // requirements).
    let node = unsafe { &*p.cast::<Node>() };
    let span = 1usize << (FANOUT_SHIFT * (level - 2));
    node.iter()
        .enumerate()
        .skip(from.saturating_sub(base) / span)
        // SAFETY: a pointer of the level below, of the same tree.
        .find_map(|(j, link)| unsafe {
            first_chunk_from::<T, N>(link.load(Acquire), level - 1, base + j * span, from)
        })
}

/// Shared use of a [`ChunkTable`] (see [`ChunkTable::read`]).
pub(crate) struct Shared<'a, T, const N: usize> {
    tree: PercpuReadGuard<'a, Tree<T, N>>,
    counts: &'a Counts,
}

impl<T, const N: usize> Shared<'_, T, N> {
    /// The number of entries.
    pub(crate) fn len(&self) -> usize {
        self.counts.len.load(Relaxed)
    }

    /// The root pointer above chunk number `chunk`.
    #[inline]
    fn root_link(&self, chunk: usize) -> Result<&Link> {
        let depth = self.tree.depth;
        self.tree
            .root
            .get(chunk >> (FANOUT_SHIFT * (depth - 1)))
            .ok_or(ERANGE)
    }

    /// Entry `index`: `ERANGE` past the end, `None` if its chunk is not allocated.
    #[inline]
    pub(crate) fn get(&self, index: usize) -> Result<Option<&T>> {
        Ok(self.chunk(index)?.and_then(|c| c.get(index % N)))
    }

    /// The chunk that holds entry `index`: `ERANGE` past the end, `None` if it is not
    /// allocated.
    #[inline]
    pub(crate) fn chunk(&self, index: usize) -> Result<Option<&[T; N]>> {
        if index >= self.len() {
            return Err(ERANGE);
        }
        let chunk = index / N;
        // Acquire, here and below: pairs with the installation in `get_or_alloc`; the
        // node's or chunk's initialised contents are seen.
        let mut p = self.root_link(chunk)?.load(Acquire);
        for level in (1..self.tree.depth).rev() {
            if p.is_null() {
                return Ok(None);
            }
            // SAFETY: a non-null pointer above level 1 is an index node owned by the tree
            // (type invariant of `Tree`), which stays while the read side, held by `self`,
            // is.
            let node = unsafe { &*p.cast::<Node>() };
            p = node[link_index(chunk, level)].load(Acquire);
        }
        // SAFETY: a non-null pointer of level 1 is a chunk owned by the tree, which stays
        // while the read side, held by `self`, is.
        Ok(unsafe { p.cast::<[T; N]>().as_ref() })
    }

    /// The first index from `index` on whose chunk is allocated, if there is one before the
    /// end: a walk that skips whole subtrees that were never used.
    pub(crate) fn next_allocated(&self, index: usize) -> Option<usize> {
        if index >= self.len() {
            return None;
        }
        let depth = self.tree.depth;
        let from = index / N;
        let span = 1usize << (FANOUT_SHIFT * (depth - 1));
        let chunk = self
            .tree
            .root
            .iter()
            .enumerate()
            .skip(from / span)
            // SAFETY: a root pointer of the tree, shared under the read side, held by
            // `self` (type invariant of `Tree`).
            .find_map(|(i, link)| unsafe {
                first_chunk_from::<T, N>(link.load(Acquire), depth, i * span, from)
            })?;
        Some(index.max(chunk * N)).filter(|&i| i < self.len())
    }

    /// Installs `new` in `link` unless another caller did first; returns what is
    /// installed. `new` is freed with `free` if it lost.
    fn install(link: &Link, new: *mut u8, free: impl FnOnce(*mut u8)) -> (*mut u8, bool) {
        // Full: on success, releases the new contents to readers of the pointer; on
        // failure, acquires what another caller installed.
        match link.cmpxchg(ptr::null_mut(), new, Full) {
            Ok(_) => (new, true),
            Err(installed) => {
                free(new);
                (installed, false)
            }
        }
    }

    /// Entry `index`, allocating its chunk with `alloc` (and the index nodes above it) if
    /// it is missing: `ERANGE` past the end, or an allocation's error. Two callers may
    /// allocate the same node or chunk at once; one is installed, and the other dropped.
    #[inline]
    pub(crate) fn get_or_alloc(
        &self,
        index: usize,
        alloc: impl FnOnce() -> Result<KBox<[T; N]>>,
    ) -> Result<&T> {
        if let Some(entry) = self.get(index)? {
            return Ok(entry);
        }
        let chunk = index / N;
        let mut link = self.root_link(chunk)?;
        for level in (1..self.tree.depth).rev() {
            let mut p = link.load(Acquire);
            if p.is_null() {
                let new = KBox::into_raw(alloc_node()?).cast::<u8>();
                let installed;
                (p, installed) = Self::install(link, new, |new| {
                    // SAFETY: `new` came from `KBox::into_raw` above and was not installed.
                    drop(unsafe { node_from_raw(new) })
                });
                if installed {
                    // INVARIANT: one more node, installed once, owned by the tree.
                    self.counts.nodes.fetch_add(1, Relaxed);
                }
            }
            // SAFETY: a non-null pointer above level 1 is an index node owned by the tree,
            // which stays while the read side, held by `self`, is.
            let node = unsafe { &*p.cast::<Node>() };
            link = &node[link_index(chunk, level)];
        }
        let mut p = link.load(Acquire);
        if p.is_null() {
            let new = KBox::into_raw(alloc()?).cast::<u8>();
            let installed;
            (p, installed) = Self::install(link, new, |new| {
                // SAFETY: `new` came from `KBox::into_raw` above and was not installed.
                drop(unsafe { chunk_from_raw::<T, N>(new) })
            });
            if installed {
                // INVARIANT: one more chunk, installed once, owned by the tree.
                self.counts.chunks.fetch_add(1, Relaxed);
            }
        }
        // SAFETY: `p` is a chunk owned by the tree (installed by one caller or another),
        // which stays while the read side, held by `self`, is.
        unsafe { &*p.cast::<[T; N]>() }.get(index % N).ok_or(ERANGE)
    }
}

/// What a resize to a new length allocates before it runs, so that the resize itself does
/// not allocate: the new root, and the index nodes for the levels it may add.
pub(crate) struct SpareChunks<T, const N: usize> {
    len: usize,
    depth: u32,
    root: KVVec<Link>,
    /// `depth - 1` nodes: what a tree of one level needs to grow to `depth`.
    nodes: KVec<KBox<Node>>,
    _chunks: core::marker::PhantomData<KBox<[T; N]>>,
}

impl<T, const N: usize> SpareChunks<T, N> {
    /// What a resize to `len` entries needs. May sleep.
    pub(crate) fn new(len: usize) -> Result<Self> {
        let (depth, root_len) = shape(len, N);
        let mut nodes = KVec::with_capacity(depth as usize - 1, GFP_KERNEL)?;
        for _ in 1..depth {
            nodes.push(alloc_node()?, GFP_KERNEL)?;
        }
        Ok(Self {
            len,
            depth,
            root: null_links(root_len)?,
            nodes,
            _chunks: core::marker::PhantomData,
        })
    }

    /// The number of entries of a table resized with these.
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

/// The tree of a table, for an [`Exclusive`] view.
enum TreeMut<'a, T, const N: usize> {
    /// Held through the write side of the table's lock.
    Locked(PercpuWriteGuard<'a, Tree<T, N>>),
    /// Held through a unique reference to the table.
    Unique(&'a mut Tree<T, N>),
}

/// A view of a [`ChunkTable`] that nothing else uses, to change it as a whole.
///
/// # Invariants
///
/// `tree` and `counts` are those of one table, whose invariants the view keeps.
pub(crate) struct Exclusive<'a, T, const N: usize> {
    tree: TreeMut<'a, T, N>,
    counts: &'a Counts,
}

/// Calls `f` on every chunk under `p`, a pointer of level `level` above chunk number
/// `base`, with the index of the chunk's first entry; stops at the first error.
///
/// # Safety
///
/// `p` must be null or a pointer of level `level` of a tree that nothing else uses
/// meanwhile.
unsafe fn visit<T, const N: usize>(
    p: *mut u8,
    level: u32,
    base: usize,
    f: &mut impl FnMut(usize, &mut [T; N]) -> Result,
) -> Result {
    if p.is_null() {
        return Ok(());
    }
    if level == 1 {
        // SAFETY: a chunk of the tree, which nothing else uses (safety requirements).
        return f(base * N, unsafe { &mut *p.cast::<[T; N]>() });
    }
    // SAFETY: an index node of the tree, which nothing else uses.
    let node = unsafe { &mut *p.cast::<Node>() };
    for (j, link) in node.iter_mut().enumerate() {
        let child = base + (j << (FANOUT_SHIFT * (level - 2)));
        // SAFETY: a pointer of the level below, of the same tree.
        unsafe { visit::<T, N>(*link.get_mut(), level - 1, child, f) }?;
    }
    Ok(())
}

/// Frees what lies under `link`, a pointer of level `level` above chunk number `base`:
/// the chunks for which `drop_chunk` is true, given the chunk's number, and the index
/// nodes left empty; `f` is called on each entry of a chunk before it is freed.
///
/// # Safety
///
/// `link` must be a pointer of level `level` of a tree that nothing else uses meanwhile.
unsafe fn prune<T, const N: usize>(
    link: &mut Link,
    level: u32,
    base: usize,
    drop_chunk: &mut impl FnMut(usize, &mut [T; N]) -> bool,
    f: &mut impl FnMut(&mut T),
    freed: &mut Freed,
) {
    let p = *link.get_mut();
    if p.is_null() {
        return;
    }
    if level == 1 {
        // SAFETY: a chunk of the tree, which nothing else uses (safety requirements).
        if drop_chunk(base, unsafe { &mut *p.cast::<[T; N]>() }) {
            *link.get_mut() = ptr::null_mut();
            // SAFETY: the chunk, taken out of the tree just above.
            unsafe { free_subtree::<T, N>(p, 1, f, freed) };
        }
        return;
    }
    // SAFETY: an index node of the tree, which nothing else uses.
    let node = unsafe { &mut *p.cast::<Node>() };
    let mut empty = true;
    for (j, child) in node.iter_mut().enumerate() {
        let child_base = base + (j << (FANOUT_SHIFT * (level - 2)));
        // SAFETY: a pointer of the level below, of the same tree.
        unsafe { prune::<T, N>(child, level - 1, child_base, drop_chunk, f, freed) };
        empty &= child.get_mut().is_null();
    }
    if empty {
        *link.get_mut() = ptr::null_mut();
        // SAFETY: the node, all of whose pointers are null, taken out of the tree above.
        unsafe { free_subtree::<T, N>(p, level, f, freed) };
    }
}

impl<T, const N: usize> Exclusive<'_, T, N> {
    /// The tree.
    fn tree(&mut self) -> &mut Tree<T, N> {
        match &mut self.tree {
            TreeMut::Locked(guard) => guard,
            TreeMut::Unique(tree) => tree,
        }
    }

    /// Calls `f` on every allocated chunk, in order, with the index of its first entry;
    /// stops at the first error and returns it.
    pub(crate) fn try_for_each_chunk(
        &mut self,
        mut f: impl FnMut(usize, &mut [T; N]) -> Result,
    ) -> Result {
        let tree = self.tree();
        let depth = tree.depth;
        for (i, link) in tree.root.iter_mut().enumerate() {
            // SAFETY: a root pointer of the tree, which nothing else uses (type invariant).
            unsafe {
                visit::<T, N>(
                    *link.get_mut(),
                    depth,
                    i << (FANOUT_SHIFT * (depth - 1)),
                    &mut f,
                )
            }?;
        }
        Ok(())
    }

    /// Frees what [`prune`] frees under every root pointer, and counts it.
    fn prune_all(
        &mut self,
        mut drop_chunk: impl FnMut(usize, &mut [T; N]) -> bool,
        mut f: impl FnMut(&mut T),
    ) -> usize {
        let mut freed = Freed::default();
        let tree = self.tree();
        let depth = tree.depth;
        for (i, link) in tree.root.iter_mut().enumerate() {
            let base = i << (FANOUT_SHIFT * (depth - 1));
            // SAFETY: a root pointer of the tree, which nothing else uses (type invariant).
            unsafe { prune::<T, N>(link, depth, base, &mut drop_chunk, &mut f, &mut freed) };
        }
        // INVARIANT: what was freed is no longer counted.
        self.counts.chunks.fetch_sub(freed.chunks, Relaxed);
        self.counts.nodes.fetch_sub(freed.nodes, Relaxed);
        freed.chunks
    }

    /// Frees every chunk for which `unused` is true, and the index nodes left with no
    /// chunk; returns how many chunks it freed.
    pub(crate) fn free_chunks_where(
        &mut self,
        mut unused: impl FnMut(&mut [T; N]) -> bool,
    ) -> usize {
        self.prune_all(|_, chunk| unused(chunk), |_| {})
    }

    /// Gives the table `spare`'s length: chunks keep their place (and entries their
    /// index), and the chunks wholly past the new end are dropped. Entries past the new
    /// end in the last kept chunk stay as they are, unreachable until the table grows
    /// again.
    pub(crate) fn resize(&mut self, spare: SpareChunks<T, N>) {
        let chunks = spare.len.div_ceil(N).max(1);
        self.prune_all(|base, _| base >= chunks, |_| {});
        let SpareChunks {
            len,
            depth,
            root: mut new_root,
            mut nodes,
            ..
        } = spare;
        let counts = self.counts;
        let tree = self.tree();
        let old_depth = tree.depth;
        let mut old_root = core::mem::replace(&mut tree.root, KVVec::new());
        let mut used_nodes: isize = 0;
        if depth >= old_depth {
            // The old root's pointers go down into a node of their own for each level
            // added, the first pointer of the one above.
            let mut top = None;
            if depth > old_depth && old_root.iter_mut().any(|l| !l.get_mut().is_null()) {
                for _ in old_depth..depth {
                    let Some(mut node) = nodes.pop() else { break };
                    match top.take() {
                        None => {
                            for (to, from) in node.iter_mut().zip(old_root.iter_mut()) {
                                *to.get_mut() = core::mem::replace(from.get_mut(), ptr::null_mut());
                            }
                        }
                        Some(below) => *node[0].get_mut() = below,
                    }
                    used_nodes += 1;
                    top = Some(KBox::into_raw(node).cast::<u8>());
                }
                if let (Some(top), Some(first)) = (top, new_root.first_mut()) {
                    *first.get_mut() = top;
                }
            } else {
                for (to, from) in new_root.iter_mut().zip(old_root.iter_mut()) {
                    *to.get_mut() = core::mem::replace(from.get_mut(), ptr::null_mut());
                }
            }
        } else {
            // Every chunk left is under the old root's first pointer (the new length fits
            // it): its node at the new root's level becomes the new root, and the nodes
            // above it go.
            let mut p = old_root
                .first_mut()
                .map_or(ptr::null_mut(), |l| *l.get_mut());
            let mut level = old_depth - 1;
            while !p.is_null() {
                // SAFETY: an index node of the tree (level above 1), taken out of it: the
                // root that held it is dropped below, and its pointers are moved out.
                let mut node = unsafe { node_from_raw(p) };
                used_nodes -= 1;
                if level == depth {
                    for (to, from) in new_root.iter_mut().zip(node.iter_mut()) {
                        *to.get_mut() = core::mem::replace(from.get_mut(), ptr::null_mut());
                    }
                    break;
                }
                p = core::mem::replace(node[0].get_mut(), ptr::null_mut());
                level -= 1;
            }
        }
        // INVARIANT: every node and chunk kept is in the new tree, at its place; the old
        // root's pointers were all moved out (or were null, past the new end); the counts
        // follow.
        tree.root = new_root;
        tree.depth = depth;
        if used_nodes >= 0 {
            counts.nodes.fetch_add(used_nodes as usize, Relaxed);
        } else {
            counts.nodes.fetch_sub(used_nodes.unsigned_abs(), Relaxed);
        }
        counts.root_len.store(tree.root.len(), Relaxed);
        counts.len.store(len, Relaxed);
    }

    /// Calls `f` on every entry of every chunk, then frees the chunks and index nodes; the
    /// length stays.
    pub(crate) fn clear(&mut self, f: impl FnMut(&mut T)) {
        self.prune_all(|_, _| true, f);
    }
}

#[kernel::prelude::kunit_tests(foxramdisk_chunk_table)]
mod tests {
    use super::*;

    type Table = ChunkTable<Atomic<u32>, 4>;

    /// A chunk of entries holding `value`.
    fn chunk(value: u32) -> Result<KBox<[Atomic<u32>; 4]>> {
        let chunk = KBox::new([const { Atomic::new(0) }; 4], GFP_KERNEL)?;
        chunk.iter().for_each(|e| e.store(value, Relaxed));
        Ok(chunk)
    }

    #[test]
    fn chunks_come_on_first_use() -> Result {
        let owner = Table::new(10, c"kunit_chunk_table", kernel::static_lock_class!())?;
        let table = owner.read();
        assert_eq!(table.len(), 10);
        assert_eq!(owner.allocated(), 0);
        assert!(table.get(5)?.is_none());
        assert_eq!(table.get(10).err(), Some(ERANGE));
        assert_eq!(table.get_or_alloc(10, || chunk(1)).err(), Some(ERANGE));
        assert_eq!(table.get_or_alloc(5, || chunk(1))?.load(Relaxed), 1);
        // Installed once: a second allocation is not asked for, and the chunk is shared.
        assert_eq!(table.get_or_alloc(6, || Err(ENOMEM))?.load(Relaxed), 1);
        assert!(table.get(4)?.is_some());
        assert!(table.get(3)?.is_none());
        assert_eq!(owner.allocated(), 1);
        assert_eq!(owner.bytes(), Table::CHUNK_BYTES + 3 * size_of::<usize>());
        // An allocation that fails leaves the chunk missing.
        assert_eq!(table.get_or_alloc(0, || Err(ENOMEM)).err(), Some(ENOMEM));
        assert!(table.get(0)?.is_none());
        Ok(())
    }

    #[test]
    fn exclusive_view_resizes_frees_and_clears() -> Result {
        let mut table = Table::new(12, c"kunit_chunk_table", kernel::static_lock_class!())?;
        for (index, value) in [(0, 1), (5, 2), (9, 3)] {
            table.read().get_or_alloc(index, || chunk(value))?;
        }
        let mut firsts = KVec::new();
        table
            .get_mut()
            .try_for_each_chunk(|first, _| Ok(firsts.push(first, GFP_KERNEL)?))?;
        assert_eq!(&firsts[..], &[0, 4, 8]);
        // The chunk holding 2s goes; the others stay.
        let freed = table
            .get_mut()
            .free_chunks_where(|c| c[0].load(Relaxed) == 2);
        assert_eq!(freed, 1);
        assert!(table.read().get(5)?.is_none());
        // Shrinking drops the chunks past the end and keeps the others in place.
        table.get_mut().resize(SpareChunks::new(6)?);
        assert_eq!((table.len(), table.allocated()), (6, 1));
        assert_eq!(table.read().get(1)?.map(|e| e.load(Relaxed)), Some(1));
        assert_eq!(table.read().get(9).err(), Some(ERANGE));
        // Growing keeps them too; the new chunks are missing.
        table.get_mut().resize(SpareChunks::new(20)?);
        assert_eq!((table.len(), table.allocated()), (20, 1));
        assert_eq!(table.read().get(2)?.map(|e| e.load(Relaxed)), Some(1));
        assert!(table.read().get(9)?.is_none());
        // The locked view: no shared use meanwhile.
        let mut seen = 0;
        let mut view = table.exclusive();
        assert!(table.try_read().is_none());
        view.clear(|e| seen += e.load(Relaxed));
        drop(view);
        assert_eq!(seen, 4);
        assert_eq!((table.len(), table.allocated()), (20, 0));
        Ok(())
    }

    #[test]
    fn a_huge_table_costs_what_is_used() -> Result {
        // 2^40 entries, one per chunk: a root of 16 pointers over four levels of nodes.
        type Huge = ChunkTable<Atomic<u32>, 1>;
        let len = 1usize << 40;
        let root = 16 * size_of::<usize>();
        let mut table = Huge::new(len, c"kunit_chunk_table", kernel::static_lock_class!())?;
        assert_eq!(table.bytes(), root);
        let one = || Ok(KBox::new([Atomic::new(1)], GFP_KERNEL)?);
        let seven = || Ok(KBox::new([Atomic::new(7)], GFP_KERNEL)?);
        {
            let shared = table.read();
            assert_eq!(shared.get_or_alloc(0, one)?.load(Relaxed), 1);
            assert_eq!(shared.get_or_alloc(len - 1, seven)?.load(Relaxed), 7);
            assert!(shared.get(1)?.is_none());
            assert!(shared.get(len - 2)?.is_none());
            assert_eq!(shared.get(len).err(), Some(ERANGE));
        }
        // Two chunks, and four nodes above each.
        assert_eq!(table.allocated(), 2);
        assert_eq!(table.bytes(), root + 2 * Huge::CHUNK_BYTES + 8 * NODE_BYTES);
        let mut seen = KVec::new();
        table
            .get_mut()
            .try_for_each_chunk(|first, _| Ok(seen.push(first, GFP_KERNEL)?))?;
        assert_eq!(&seen[..], &[0, len - 1]);
        {
            let shared = table.read();
            assert_eq!(shared.next_allocated(0), Some(0));
            assert_eq!(shared.next_allocated(1), Some(len - 1));
            assert_eq!(shared.next_allocated(len - 1), Some(len - 1));
            assert_eq!(shared.next_allocated(len), None);
        }
        // Freeing the last chunk frees the nodes above it, and only them.
        let freed = table
            .get_mut()
            .free_chunks_where(|c| c[0].load(Relaxed) == 7);
        assert_eq!(freed, 1);
        assert_eq!(table.bytes(), root + Huge::CHUNK_BYTES + 4 * NODE_BYTES);
        // Shrinking to one level keeps the first chunk and frees every node.
        table.get_mut().resize(SpareChunks::new(100)?);
        assert_eq!(table.bytes(), 100 * size_of::<usize>() + Huge::CHUNK_BYTES);
        assert_eq!(table.read().get(0)?.map(|e| e.load(Relaxed)), Some(1));
        // Growing again puts it under four new nodes.
        table.get_mut().resize(SpareChunks::new(len)?);
        assert_eq!(table.bytes(), root + Huge::CHUNK_BYTES + 4 * NODE_BYTES);
        assert_eq!(table.read().get(0)?.map(|e| e.load(Relaxed)), Some(1));
        assert!(table.read().get(len - 1)?.is_none());
        table.get_mut().clear(|_| {});
        assert_eq!(table.bytes(), root);
        Ok(())
    }

    #[test]
    fn shapes_fit_their_length() {
        assert_eq!(shape(1, 256), (1, 1));
        assert_eq!(shape(256 * FANOUT, 256), (1, FANOUT));
        assert_eq!(shape(256 * FANOUT + 1, 256), (2, 2));
        // A petabyte of 4 KiB blocks, 256 per chunk: 2^30 chunks, 8 under the root.
        assert_eq!(shape(1 << 38, 256), (4, 8));
    }
}
