//! Protocol tests: golden bytes laid out by hand from `zookeeper.jute`
//! (field order and widths) and captured from kazoo, round-trip proptests
//! for every request and response, and arbitrary bytes into every decoder.

mod golden;
mod kazoo;
mod props;

/// Bytes from a hex string; whitespace is ignored.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    digits
        .chunks(2)
        .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
        .collect()
}
