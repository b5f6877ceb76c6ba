// SPDX-License-Identifier: GPL-2.0

//! Block devices: what `kernel::block` of Linux 7.3 lacks for a RAM disk.

pub(crate) mod bio;
pub(crate) mod mq;
