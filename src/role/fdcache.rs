//! The listener's cache of files that vhost workers granted: for a short
//! while after a worker answered a GET/HEAD of a path with a file, the
//! listener answers the same (vhost, path, accepts-gzip) itself from the fd
//! the worker passed, without the IPC round trip. The listener still never
//! opens a file: it only keeps fds it was given.
//!
//! Bounded: a fixed number of entries, direct-mapped by hash, each valid for
//! `CACHE_VALID_MS` (so a changed file is seen within that time, as with
//! nginx's `open_file_cache_valid`). Entries are dropped when the worker's
//! settings change or its channel goes away. An entry that connections are
//! still sending from is never replaced under them.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use heapless::Vec as HVec;

use crate::ipc::msg::CacheInfo;
use crate::limits::{CACHE_PATH_BYTES, CACHE_VALID_MS};

pub struct Entry {
    live: bool,
    vhost: u8,
    gzip: bool,
    path: HVec<u8, CACHE_PATH_BYTES>,
    fd: Option<OwnedFd>,
    expires: u64,
    /// Connections sending from this fd right now.
    users: u32,
    pub info: CacheInfo,
}

pub struct FdCache {
    entries: Vec<Entry>,
}

fn hash(vhost: u8, gzip: bool, path: &[u8]) -> u64 {
    // FNV-1a: tiny, and good enough for a direct-mapped table.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in [vhost, gzip as u8].iter().chain(path) {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl FdCache {
    pub fn new(n: usize) -> FdCache {
        let mut entries = Vec::with_capacity(n);
        entries.resize_with(n, || Entry {
            live: false,
            vhost: 0,
            gzip: false,
            path: HVec::new(),
            fd: None,
            expires: 0,
            users: 0,
            info: CacheInfo {
                size: 0,
                mtime: 0,
                etag: HVec::new(),
                base: HVec::new(),
                validators: 0,
            },
        });
        FdCache { entries }
    }

    fn slot(&self, vhost: u8, gzip: bool, path: &[u8]) -> Option<usize> {
        if self.entries.is_empty() {
            return None;
        }
        Some((hash(vhost, gzip, path) % self.entries.len() as u64) as usize)
    }

    /// A fresh entry for the key.
    pub fn get(&self, vhost: u8, gzip: bool, path: &[u8], now: u64) -> Option<usize> {
        let i = self.slot(vhost, gzip, path)?;
        let e = &self.entries[i];
        (e.live
            && now < e.expires
            && e.vhost == vhost
            && e.gzip == gzip
            && e.path == path
            && e.fd.is_some())
        .then_some(i)
    }

    pub fn info(&self, i: usize) -> &CacheInfo {
        &self.entries[i].info
    }

    /// Stores a granted file. Returns the entry's index when the fd went
    /// into the cache; else gives the fd back (slot busy, path too long).
    pub fn put(
        &mut self,
        vhost: u8,
        gzip: bool,
        path: &[u8],
        fd: OwnedFd,
        info: CacheInfo,
        now: u64,
    ) -> Result<usize, OwnedFd> {
        let Some(i) = self.slot(vhost, gzip, path) else {
            return Err(fd);
        };
        let e = &mut self.entries[i];
        if e.users > 0 || path.len() > CACHE_PATH_BYTES {
            return Err(fd);
        }
        e.path.clear();
        let _ = e.path.extend_from_slice(path);
        e.live = true;
        e.vhost = vhost;
        e.gzip = gzip;
        e.fd = Some(fd);
        e.expires = now + CACHE_VALID_MS;
        e.info = info;
        Ok(i)
    }

    /// A connection starts sending from entry `i`.
    pub fn acquire(&mut self, i: usize) -> Option<RawFd> {
        let e = self.entries.get_mut(i)?;
        let fd = e.fd.as_ref()?.as_raw_fd();
        e.users += 1;
        Some(fd)
    }

    pub fn raw(&self, i: usize) -> Option<RawFd> {
        self.entries.get(i)?.fd.as_ref().map(|f| f.as_raw_fd())
    }

    pub fn release(&mut self, i: usize) {
        if let Some(e) = self.entries.get_mut(i) {
            e.users = e.users.saturating_sub(1);
            if !e.live && e.users == 0 {
                e.fd = None;
            }
        }
    }

    /// Forgets every entry of `vhost` (settings changed, worker replaced).
    pub fn flush_vhost(&mut self, vhost: u8) {
        for e in self
            .entries
            .iter_mut()
            .filter(|e| e.live && e.vhost == vhost)
        {
            e.live = false;
            if e.users == 0 {
                e.fd = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> OwnedFd {
        std::fs::File::open("/dev/null").unwrap().into()
    }

    fn info(size: u64) -> CacheInfo {
        CacheInfo {
            size,
            mtime: 1,
            etag: HVec::new(),
            base: HVec::new(),
            validators: 0,
        }
    }

    #[test]
    fn hit_expiry_keys_and_flush() {
        let mut c = FdCache::new(8);
        let i = c.put(1, false, b"/a", fd(), info(5), 1000).unwrap();
        assert_eq!(c.get(1, false, b"/a", 1000), Some(i));
        assert_eq!(c.info(i).size, 5);
        assert_eq!(c.get(1, true, b"/a", 1000), None, "gzip is part of the key");
        assert_eq!(
            c.get(2, false, b"/a", 1000),
            None,
            "vhost is part of the key"
        );
        assert_eq!(c.get(1, false, b"/b", 1000), None);
        assert_eq!(
            c.get(1, false, b"/a", 1000 + CACHE_VALID_MS),
            None,
            "expired"
        );
        c.flush_vhost(1);
        assert_eq!(c.get(1, false, b"/a", 1000), None, "flushed");
    }

    #[test]
    fn busy_entries_are_not_replaced_and_keep_their_fd() {
        let mut c = FdCache::new(1); // every key maps to the one slot
        let i = c.put(1, false, b"/a", fd(), info(5), 0).unwrap();
        let raw = c.acquire(i).unwrap();
        assert!(c.put(1, false, b"/b", fd(), info(6), 0).is_err(), "in use");
        c.flush_vhost(1);
        assert_eq!(
            c.raw(i),
            Some(raw),
            "fd stays open while a connection sends from it"
        );
        c.release(i);
        assert_eq!(c.raw(i), None, "closed once the last user is done");
        assert!(c.put(1, false, b"/b", fd(), info(6), 0).is_ok());
        let long = vec![b'a'; CACHE_PATH_BYTES + 1];
        assert!(c.put(1, false, &long, fd(), info(6), 0).is_err());
    }
}
