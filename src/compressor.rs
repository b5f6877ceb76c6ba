// SPDX-License-Identifier: GPL-2.0

//! Per-CPU compression contexts.
//!
//! A [`Compressor`] has one [`Context`] per possible CPU: an acomp request (transform,
//! request and their state) and the buffers a block passes through, all allocated when
//! the device is created, never on the I/O path. A request takes the context of the CPU
//! it runs on, under that context's mutex; if the task migrates meanwhile, another task
//! on the same CPU waits for the mutex rather than sharing the buffers. Two CPUs
//! compress at the same time on two contexts.

use crate::{
    codec::Algorithm,
    ext::crypto::acomp::AcompRequest,
    store::BLOCK_SIZE, //
};
use kernel::{
    cpu,
    new_mutex,
    prelude::*,
    sync::{Mutex, MutexGuard}, //
};

/// Size of the buffer compressed data goes to: a block that compresses badly may grow
/// beyond [`BLOCK_SIZE`] before a codec notices.
pub(crate) const COMPRESSED_BUFFER_SIZE: usize = 2 * BLOCK_SIZE;

/// What one CPU compresses and decompresses with.
pub(crate) struct Context {
    /// The acomp request; `None` for [`Algorithm::NoComp`].
    codec: Option<AcompRequest>,
    /// A whole block of plain data.
    pub(crate) block: KVec<u8>,
    /// Compressed data.
    pub(crate) compressed: KVec<u8>,
}

impl Context {
    /// Allocates a context for `algorithm`. May sleep.
    fn new(algorithm: Algorithm) -> Result<Self> {
        let codec = match algorithm.crypto_name() {
            Some(name) => Some(AcompRequest::new(name)?),
            None => None,
        };
        Ok(Self {
            codec,
            block: KVec::from_elem(0, BLOCK_SIZE, GFP_KERNEL)?,
            compressed: KVec::from_elem(0, COMPRESSED_BUFFER_SIZE, GFP_KERNEL)?,
        })
    }

    /// Compresses [`Context::block`] into [`Context::compressed`]; returns the length, or
    /// `None` when the data does not compress into the buffer (or there is no codec).
    pub(crate) fn compress(&mut self) -> Option<usize> {
        let codec = self.codec.as_mut()?;
        codec.compress(&self.block, &mut self.compressed).ok()
    }

    /// Decompresses the first `len` bytes of [`Context::compressed`] into
    /// [`Context::block`], which must fill up exactly.
    pub(crate) fn decompress(&mut self, len: usize) -> Result {
        let codec = self.codec.as_mut().ok_or(EINVAL)?;
        let src = self.compressed.get(..len).ok_or(EINVAL)?;
        match codec.decompress(src, &mut self.block)? {
            BLOCK_SIZE => Ok(()),
            _ => Err(EIO),
        }
    }
}

/// One [`Context`] per possible CPU, for one algorithm.
pub(crate) struct Compressor {
    algorithm: Algorithm,
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
            algorithm,
            contexts,
        })
    }

    /// The algorithm.
    pub(crate) fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Takes the context of the current CPU. May sleep.
    pub(crate) fn get(&self) -> Option<MutexGuard<'_, Context>> {
        let cpu = cpu::CpuId::current().as_u32() as usize;
        // `nr_cpu_ids` bounds every CPU number; fall back to the first context anyway.
        let context = self.contexts.get(cpu).or_else(|| self.contexts.first())?;
        Some(context.lock())
    }

    /// The memory the contexts hold, in bytes (buffers only; codec state is not known).
    pub(crate) fn buffer_bytes(&self) -> u64 {
        (self.contexts.len() * (BLOCK_SIZE + COMPRESSED_BUFFER_SIZE)) as u64
    }
}
