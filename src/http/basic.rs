//! HTTP Basic authentication (RFC 7617): credential decoding and the check
//! against an htpasswd-style user file. Only plain-text passwords are
//! understood today; an entry in a hashed format (`$apr1$`, `{SHA}`, crypt)
//! never matches, so a protected path stays closed rather than open.

/// Decodes `Basic <base64(user:pass)>` into `out`; returns (user, pass).
pub fn decode<'a>(header: &[u8], out: &'a mut [u8]) -> Option<(&'a [u8], &'a [u8])> {
    if !header.get(..6)?.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let b64 = header[6..].trim_ascii();
    let n = base64(b64, out)?;
    let dec = &out[..n];
    let colon = dec.iter().position(|&b| b == b':')?;
    Some((&dec[..colon], &dec[colon + 1..]))
}

fn base64(input: &[u8], out: &mut [u8]) -> Option<usize> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let input = match input.iter().position(|&c| c == b'=') {
        Some(p) if input[p..].iter().all(|&c| c == b'=') && input.len() % 4 == 0 => &input[..p],
        Some(_) => return None,
        None => input,
    };
    let mut n = 0;
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in input {
        acc = (acc << 6) | val(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(n)? = (acc >> bits) as u8;
            n += 1;
        }
    }
    Some(n)
}

/// True when `user:pass` is a line of `file` (comments and blank lines
/// skipped; the comparison takes the same time whatever matches).
pub fn check(file: &[u8], user: &[u8], pass: &[u8]) -> bool {
    for line in file.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line.starts_with(b"#") {
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if &line[..colon] != user {
            continue;
        }
        let stored = &line[colon + 1..];
        if stored.starts_with(b"$") || stored.starts_with(b"{") {
            return false; // hashed formats are not supported yet: fail closed
        }
        return ct_eq(stored, pass);
    }
    false
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | (a.len() != b.len()) as u8;
    for (i, &x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_rfc7617_example() {
        let mut b = [0u8; 64];
        // "Aladdin:open sesame"
        let (u, p) = decode(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &mut b).unwrap();
        assert_eq!((u, p), (&b"Aladdin"[..], &b"open sesame"[..]));
        let mut b = [0u8; 64];
        assert!(decode(b"Bearer QWxh", &mut b).is_none());
        assert!(decode(b"Basic !!!!", &mut b).is_none());
        assert!(decode(b"Basic QWxhZGRpbg==", &mut b).is_none(), "no colon");
        assert!(decode(b"Basic", &mut b).is_none());
        let mut tiny = [0u8; 3];
        assert!(decode(b"Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==", &mut tiny).is_none());
    }

    #[test]
    fn checks_plain_entries_and_refuses_hashes() {
        let file = b"# users\nalice:wonder\r\nbob:$apr1$x$y\n\ncarol:{SHA}abc\n";
        assert!(check(file, b"alice", b"wonder"));
        assert!(!check(file, b"alice", b"wonde"));
        assert!(!check(file, b"alice", b"wonderland"));
        assert!(!check(file, b"bob", b"$apr1$x$y"));
        assert!(!check(file, b"carol", b"{SHA}abc"));
        assert!(!check(file, b"mallory", b""));
    }
}
