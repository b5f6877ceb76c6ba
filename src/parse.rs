// SPDX-License-Identifier: GPL-2.0

//! Parsers of what users write to sysfs files and module parameters, and the form of it
//! that log lines show.

use kernel::{
    prelude::*,
    str::{parse_int::ParseInt, BStr},
};

/// Parses an unsigned integer as sysfs writers and command lines give it: decimal (or
/// `0x` hexadecimal), one trailing newline allowed, nothing else.
pub(crate) fn parse_u64(input: &[u8]) -> Result<u64> {
    let digits = input.strip_suffix(b"\n").unwrap_or(input);
    u64::from_str(BStr::from_bytes(digits)).map_err(|_| EINVAL)
}

/// Parses a signed integer: decimal (or `0x` hexadecimal), with an optional `-`, one
/// trailing newline allowed, nothing else.
pub(crate) fn parse_i32(input: &[u8]) -> Result<i32> {
    let digits = input.strip_suffix(b"\n").unwrap_or(input);
    i32::from_str(BStr::from_bytes(digits)).map_err(|_| EINVAL)
}

/// Parses a size in bytes as `memparse()` does: a decimal (or `0x` hexadecimal) number
/// with an optional binary suffix `K`, `M`, `G`, `T`, `P` or `E` (either case), one
/// trailing newline allowed. Overflow, signs, spaces and anything else are `EINVAL`.
pub(crate) fn parse_size(input: &[u8]) -> Result<u64> {
    let text = input.strip_suffix(b"\n").unwrap_or(input);
    let hex = text.starts_with(b"0x") || text.starts_with(b"0X");
    let (digits, shift) = match text.split_last() {
        // In `0x1E` the `E` is a digit, as in `memparse()`.
        Some((suffix, rest)) if suffix.is_ascii_alphabetic() && !hex => {
            let shift = match suffix.to_ascii_uppercase() {
                b'K' => 10,
                b'M' => 20,
                b'G' => 30,
                b'T' => 40,
                b'P' => 50,
                b'E' => 60,
                _ => return Err(EINVAL),
            };
            (rest, shift)
        }
        _ => (text, 0),
    };
    // `u64::from_str` accepts a leading `+`; a size is plain digits.
    if digits.first().is_none_or(|c| !c.is_ascii_digit()) {
        return Err(EINVAL);
    }
    let value = u64::from_str(BStr::from_bytes(digits)).map_err(|_| EINVAL)?;
    value
        .checked_shl(shift)
        .filter(|v| v >> shift == value)
        .ok_or(EINVAL)
}

/// Splits `input` into the `key=value` arguments that zram's `recompress` and
/// `recomp_algorithm` take, separated by spaces, tabs or newlines. An argument without `=`
/// or with an empty key or value is `EINVAL`.
pub(crate) fn key_values(input: &[u8]) -> impl Iterator<Item = Result<(&[u8], &[u8])>> {
    input
        .split(|c| c.is_ascii_whitespace())
        .filter(|arg| !arg.is_empty())
        .map(|arg| {
            let at = arg.iter().position(|&c| c == b'=').ok_or(EINVAL)?;
            let (key, value) = (&arg[..at], &arg[at + 1..]);
            if key.is_empty() || value.is_empty() {
                return Err(EINVAL);
            }
            Ok((key, value))
        })
}

/// A printable form of user input for log lines: at most 32 bytes, trailing space removed.
pub(crate) fn shown(input: &[u8]) -> &str {
    let text = core::str::from_utf8(input)
        .unwrap_or("(not UTF-8)")
        .trim_end();
    text.get(..text.len().min(32)).unwrap_or("(not UTF-8)")
}

#[kunit_tests(foxramdisk_parse)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_memparse() {
        for (input, bytes) in [
            (&b"4096"[..], 4096),
            (b"4096\n", 4096),
            (b"1k", 1 << 10),
            (b"64K\n", 64 << 10),
            (b"512M", 512 << 20),
            (b"2g", 2 << 30),
            (b"16T", 16 << 40),
            (b"1P", 1 << 50),
            (b"15E", 15 << 60),
            (b"0x1E", 0x1e),
            (b"0x1000\n", 4096),
            (b"0", 0),
        ] {
            assert_eq!(parse_size(input), Ok(bytes));
        }
    }

    #[test]
    fn key_values_split_at_spaces_and_the_first_equals() {
        let mut args = key_values(b" algo=zstd\tpriority=2 \n");
        assert_eq!(args.next(), Some(Ok((&b"algo"[..], &b"zstd"[..]))));
        assert_eq!(args.next(), Some(Ok((&b"priority"[..], &b"2"[..]))));
        assert_eq!(args.next(), None);
        assert_eq!(
            key_values(b"a=b=c").next(),
            Some(Ok((&b"a"[..], &b"b=c"[..])))
        );
        assert_eq!(key_values(b"\n").next(), None);
        for bad in [&b"algo"[..], b"algo=", b"=zstd", b"type=idle max_pages"] {
            assert!(key_values(bad).any(|arg| arg == Err(EINVAL)));
        }
    }

    #[test]
    fn signed_integers_parse() {
        assert_eq!(parse_i32(b"19\n"), Ok(19));
        assert_eq!(parse_i32(b"-5"), Ok(-5));
        for bad in [&b""[..], b"x", b"1.5", b"2147483648", b"- 1"] {
            assert_eq!(parse_i32(bad), Err(EINVAL));
        }
    }

    #[test]
    fn bad_sizes_are_refused() {
        for input in [
            &b""[..],
            b"\n",
            b"-1",
            b"+1",
            b" 1",
            b"1 ",
            b"1\n\n",
            b"abc",
            b"12abc",
            b"1Q",
            b"K",
            b"1KB",
            b"16E",
            b"99999999999999999999",
            b"18446744073709551616",
            b"0x",
        ] {
            assert_eq!(parse_size(input), Err(EINVAL));
        }
    }
}
