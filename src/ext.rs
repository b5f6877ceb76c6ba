// SPDX-License-Identifier: GPL-2.0

//! Abstractions the `kernel` crate of Linux 7.3 lacks.
//!
//! This is essentially a staging module for code to mature until it can be moved to the
//! `kernel` crate. Each file mirrors the path it would have under `rust/kernel/` and keeps
//! all `unsafe` of the driver: the driver's own modules use only the safe API below.

pub(crate) mod block;
pub(crate) mod chunk_table;
pub(crate) mod crypto;
pub(crate) mod deflate;
pub(crate) mod fault_inject;
mod ffi;
pub(crate) mod fs;
pub(crate) mod lz4;
pub(crate) mod mm;
pub(crate) mod module_param;
pub(crate) mod object_table;
pub(crate) mod raw_buf;
pub(crate) mod sync;
pub(crate) mod sysfs;
pub(crate) mod workqueue;
pub(crate) mod zstd;
