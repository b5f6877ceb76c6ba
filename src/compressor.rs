// SPDX-License-Identifier: GPL-2.0

//! Per-CPU compression contexts.
//!
//! A [`Compressor`] has one [`Context`] per possible CPU: the buffers a block passes
//! through and a codec (an acomp request, or a library's work memory) for each algorithm
//! the device has used, all allocated off the I/O path. A request takes the context of the
//! CPU it runs on, under that context's mutex; if the task migrates meanwhile, another task
//! on the same CPU waits for the mutex rather than sharing the buffers. Two CPUs compress
//! at the same time on two contexts.
//!
//! The algorithm of new writes can change while I/O runs ([`Compressor::set_algorithm`]):
//! the new algorithm's codecs are added to every context first, then it becomes current.
//! Codecs are only removed by [`Compressor::retain_only_current`], when no stored block
//! needs them, so every block can always be decompressed with the algorithm it records.

use crate::{
    algorithm::{Algorithm, AtomicAlgorithm},
    codec::Codec,
    ext::{object_table::HEADER_BYTES, raw_buf::RawBuf},
    geometry::BLOCK_SIZE, //
};
use kernel::{
    bindings,
    cpu,
    new_mutex,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Mutex, MutexGuard,
    }, //
};

/// Size of the buffer compressed data goes to: a block that compresses badly may grow
/// beyond [`BLOCK_SIZE`] before a codec notices. It is written after room for a pool
/// object's header ([`HEADER_BYTES`]), so that the data is stored without another copy,
/// and what follows the data takes an object of the same size, with its header, to be
/// compared. Two blocks, since data stored compressed is shorter than a block by more than
/// a header; where raw blocks are pool objects too (a page larger than a block), two
/// blocks with their headers.
pub(crate) const COMPRESSED_BUFFER_SIZE: usize = if bindings::PAGE_SIZE == BLOCK_SIZE {
    2 * BLOCK_SIZE
} else {
    2 * (HEADER_BYTES + BLOCK_SIZE)
};

/// What one CPU compresses and decompresses with.
pub(crate) struct Context {
    /// The codecs, with the buffer compressed data goes through.
    pub(crate) codecs: Codecs,
    /// A whole block of plain data, for requests whose segments split a block.
    pub(crate) block: KVec<u8>,
}

impl Context {
    /// Allocates a context with the codec of `algorithm`, at its default level. May sleep.
    fn new(algorithm: Algorithm) -> Result<Self> {
        let mut codecs = Codecs {
            requests: [const { None }; Algorithm::ALL.len()],
            compressed: KVec::from_elem(0, COMPRESSED_BUFFER_SIZE, GFP_KERNEL)?,
        };
        drop(codecs.install(algorithm, Codec::new(algorithm, None)?));
        Ok(Self {
            codecs,
            block: KVec::from_elem(0, BLOCK_SIZE, GFP_KERNEL)?,
        })
    }
}

/// The codecs of one CPU, and its buffer of compressed data.
pub(crate) struct Codecs {
    /// The codec of each algorithm, by [`Algorithm`] id; `None` for algorithms not in use
    /// and for [`Algorithm::NoComp`].
    requests: [Option<Codec>; Algorithm::ALL.len()],
    /// Compressed data: what [`Codecs::compress`] produced, or a copy of a stored object
    /// that spans two pages.
    pub(crate) compressed: KVec<u8>,
}

impl Codecs {
    /// Installs `codec` as the codec of `algorithm`, unless there is one already; returns
    /// the codec not installed, for the caller to free outside the context's mutex (freeing
    /// a transform takes a crypto lock that allocations are made under).
    #[must_use]
    fn install(&mut self, algorithm: Algorithm, codec: Option<Codec>) -> Option<Codec> {
        match self.requests.get_mut(algorithm as usize) {
            Some(slot) if slot.is_none() => {
                *slot = codec;
                None
            }
            _ => codec,
        }
    }

    /// Whether the context can compress with `algorithm`.
    fn has(&self, algorithm: Algorithm) -> bool {
        algorithm == Algorithm::NoComp
            || self
                .requests
                .get(algorithm as usize)
                .is_some_and(Option::is_some)
    }

    /// Puts `codec` in place of the codec of `algorithm`; returns the one it replaces, for
    /// the caller to free outside the context's mutex (see [`Codecs::install`]).
    #[must_use]
    fn replace(&mut self, algorithm: Algorithm, codec: Codec) -> Option<Codec> {
        self.requests
            .get_mut(algorithm as usize)
            .and_then(|slot| slot.replace(codec))
    }

    /// Takes out the codec of the algorithm of id `id`, for the caller to free outside the
    /// context's mutex.
    fn take(&mut self, id: usize) -> Option<Codec> {
        self.requests.get_mut(id).and_then(Option::take)
    }

    /// Compresses `src` with `algorithm` into [`Codecs::compressed`], after its first
    /// [`HEADER_BYTES`]; returns the length,
    /// or `None` for a block to store raw: the algorithm is `nocomp`, or the data does not
    /// compress into the buffer. `EINVAL` if the context has no codec of `algorithm`, which
    /// [`Compressor::set_algorithm`] rules out for the current one.
    pub(crate) fn compress(
        &mut self,
        algorithm: Algorithm,
        src: &RawBuf<'_>,
    ) -> Result<Option<usize>> {
        if algorithm == Algorithm::NoComp {
            return Ok(None);
        }
        let codec = self
            .requests
            .get_mut(algorithm as usize)
            .and_then(Option::as_mut)
            .ok_or(EINVAL)?;
        Ok(codec
            .compress(src, &mut self.compressed[HEADER_BYTES..])
            .ok())
    }

    /// The codec of `algorithm` (`EINVAL` if there is none), with [`Codecs::compressed`]
    /// to read the compressed data into if it must be copied first.
    pub(crate) fn decompressor(&mut self, algorithm: Algorithm) -> Result<(&mut Codec, &mut [u8])> {
        let codec = self
            .requests
            .get_mut(algorithm as usize)
            .and_then(Option::as_mut)
            .ok_or(EINVAL)?;
        Ok((codec, &mut self.compressed))
    }
}

/// What [`Compressor`] records as the level of an algorithm that compresses at its default.
const DEFAULT_LEVEL: i32 = i32::MIN;

/// One [`Context`] per possible CPU, the algorithm of new writes, and the level of each
/// algorithm.
pub(crate) struct Compressor {
    /// The current algorithm; every context has its codec.
    algorithm: AtomicAlgorithm,
    /// The compression level of each algorithm, by id ([`DEFAULT_LEVEL`] for its default):
    /// what its codecs are made for.
    levels: [Atomic<i32>; Algorithm::ALL.len()],
    contexts: KVec<Pin<KBox<Mutex<Context>>>>,
}

impl Compressor {
    /// Allocates the contexts of `algorithm` for every possible CPU. May sleep.
    pub(crate) fn new(algorithm: Algorithm) -> Result<Self> {
        let n = cpu::nr_cpu_ids() as usize;
        let mut contexts = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            let context = Context::new(algorithm)?;
            contexts.push(KBox::pin_init(new_mutex!(context), GFP_KERNEL)?, GFP_KERNEL)?;
        }
        Ok(Self {
            algorithm: AtomicAlgorithm::new(algorithm),
            levels: [const { Atomic::new(DEFAULT_LEVEL) }; Algorithm::ALL.len()],
            contexts,
        })
    }

    /// The algorithm new writes use.
    pub(crate) fn algorithm(&self) -> Algorithm {
        // Acquire: a context locked after this load has the algorithm's codec (see
        // `set_algorithm`).
        self.algorithm.load()
    }

    /// Makes `algorithm` the one new writes use; blocks stored with others keep theirs.
    /// Allocates the algorithm's codecs first, outside the context mutexes, so that I/O
    /// never waits for an allocation (which could need this device, as swap). May sleep.
    pub(crate) fn set_algorithm(&self, algorithm: Algorithm) -> Result {
        self.add(algorithm)?;
        // Release: pairs with the load in `algorithm()`; the codecs are installed.
        self.algorithm.store(algorithm);
        Ok(())
    }

    /// Gives every context a codec of `algorithm`, if it has none, without making it the
    /// algorithm of new writes: for recompression. Allocates outside the context mutexes,
    /// as [`Compressor::set_algorithm`]. May sleep.
    pub(crate) fn add(&self, algorithm: Algorithm) -> Result {
        let mut codecs = KVec::with_capacity(self.contexts.len(), GFP_KERNEL)?;
        for context in self.contexts.iter() {
            let needed = !context.lock().codecs.has(algorithm);
            codecs.push(
                needed
                    .then(|| self.codec_for(algorithm))
                    .transpose()?
                    .flatten(),
                GFP_KERNEL,
            )?;
        }
        for (context, codec) in self.contexts.iter().zip(codecs) {
            let unused = context.lock().codecs.install(algorithm, codec);
            drop(unused);
        }
        Ok(())
    }

    /// The level `algorithm` compresses at; `None` for its default.
    pub(crate) fn level(&self, algorithm: Algorithm) -> Option<i32> {
        let level = self.levels.get(algorithm as usize)?.load(Relaxed);
        (level != DEFAULT_LEVEL).then_some(level)
    }

    /// A new codec of `algorithm` at its level; `None` for `nocomp`. May sleep.
    fn codec_for(&self, algorithm: Algorithm) -> Result<Option<Codec>> {
        Codec::new(algorithm, self.level(algorithm))
    }

    /// Makes `algorithm` compress at `level` (`None`: its default), from the next block on:
    /// the contexts that have a codec of it get a new one, made outside their mutexes;
    /// blocks it stored stay readable (a level changes how data is compressed, not its
    /// format). `EINVAL`, and nothing changed, for a level the algorithm does not take
    /// ([`Codec::check_level`]). Calls must be serialised with [`Compressor::add`] (a device's
    /// controls are). May sleep.
    pub(crate) fn set_level(&self, algorithm: Algorithm, level: Option<i32>) -> Result {
        Codec::check_level(algorithm, level)?;
        let recorded = self.levels.get(algorithm as usize).ok_or(EINVAL)?;
        let mut codecs = KVec::with_capacity(self.contexts.len(), GFP_KERNEL)?;
        // Recorded first, so that the new codecs are made for it; put back if one of them
        // cannot be made, before any is installed.
        let old = recorded.xchg(level.unwrap_or(DEFAULT_LEVEL), Relaxed);
        let made = self.contexts.iter().try_for_each(|context| {
            let has = context.lock().codecs.has(algorithm);
            let codec = has.then(|| self.codec_for(algorithm)).transpose()?;
            codecs.push(codec.flatten(), GFP_KERNEL)?;
            Ok(())
        });
        if let Err(e) = made {
            recorded.store(old, Relaxed);
            return Err(e);
        }
        for (context, codec) in self.contexts.iter().zip(codecs) {
            if let Some(codec) = codec {
                let old = context.lock().codecs.replace(algorithm, codec);
                drop(old);
            }
        }
        Ok(())
    }

    /// Frees the codecs of every algorithm but the current one. The caller must know that
    /// no stored block uses them (the store is empty). May sleep; must not run with the
    /// disk's queue frozen (freeing a transform takes a lock that allocations are made
    /// under, and allocations may wait for the queue).
    pub(crate) fn retain_only_current(&self) {
        let current = self.algorithm();
        for context in self.contexts.iter() {
            for id in 0..Algorithm::ALL.len() {
                if id != current as usize {
                    // Taken out under the mutex, freed after it is released.
                    let codec = context.lock().codecs.take(id);
                    drop(codec);
                }
            }
        }
    }

    /// Takes the context of the current CPU. May sleep. `EINVAL` for a CPU number beyond
    /// `nr_cpu_ids`, which bounds them all.
    pub(crate) fn get(&self) -> Result<MutexGuard<'_, Context>> {
        let cpu = cpu::CpuId::current().as_u32() as usize;
        Ok(self.contexts.get(cpu).ok_or(EINVAL)?.lock())
    }

    /// Takes the context of the current CPU if its mutex is free: `EBUSY` if another task
    /// holds it, `EINVAL` as for [`Compressor::get`]. Never sleeps, so it may be called with
    /// a lock held that comes after the context's in the lock order.
    pub(crate) fn try_get(&self) -> Result<MutexGuard<'_, Context>> {
        let cpu = cpu::CpuId::current().as_u32() as usize;
        self.contexts
            .get(cpu)
            .ok_or(EINVAL)?
            .try_lock()
            .ok_or(EBUSY)
    }

    /// The memory the contexts hold, in bytes (buffers only; codec state is not known).
    pub(crate) fn buffer_bytes(&self) -> u64 {
        (self.contexts.len() * (BLOCK_SIZE + COMPRESSED_BUFFER_SIZE)) as u64
    }
}
