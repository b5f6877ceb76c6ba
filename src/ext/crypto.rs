// SPDX-License-Identifier: GPL-2.0

//! The kernel crypto API: what the `kernel` crate of Linux 7.3 has none of.

pub(crate) mod acomp;
