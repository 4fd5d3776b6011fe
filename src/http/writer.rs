//! A bounded byte writer over a caller-owned buffer: no allocation, no panic.

pub struct Writer<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8]) -> Self {
        Writer {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// Appends `b`; on overflow nothing is written and `overflowed()` is set.
    pub fn push(&mut self, b: &[u8]) -> &mut Self {
        match self.buf.get_mut(self.len..self.len + b.len()) {
            Some(dst) if !self.overflow => {
                dst.copy_from_slice(b);
                self.len += b.len();
            }
            _ => self.overflow = true,
        }
        self
    }

    pub fn str(&mut self, s: &str) -> &mut Self {
        self.push(s.as_bytes())
    }

    /// Appends `n` in decimal, without `std::fmt`.
    pub fn dec(&mut self, n: u64) -> &mut Self {
        let mut tmp = [0u8; 20];
        let mut i = tmp.len();
        let mut n = n;
        loop {
            i -= 1;
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&tmp[i..])
    }

    /// Appends `n` in lower-case hexadecimal.
    pub fn hex(&mut self, n: u64) -> &mut Self {
        let mut tmp = [0u8; 16];
        let mut i = tmp.len();
        let mut n = n;
        loop {
            i -= 1;
            tmp[i] = b"0123456789abcdef"[(n & 15) as usize];
            n >>= 4;
            if n == 0 {
                break;
            }
        }
        self.push(&tmp[i..])
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn overflowed(&self) -> bool {
        self.overflow
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_overflow() {
        let mut b = [0u8; 16];
        let mut w = Writer::new(&mut b);
        w.dec(0).str(" ").dec(18446744073709551615);
        assert_eq!(w.as_bytes(), b"0 ");
        assert!(w.overflowed());
        let mut b = [0u8; 32];
        let mut w = Writer::new(&mut b);
        w.hex(0x1f).str("-").dec(4096);
        assert_eq!(w.as_bytes(), b"1f-4096");
        assert!(!w.overflowed());
    }
}
