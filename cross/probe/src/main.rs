//! Exits non-zero (and says why) when a platform check fails.
use std::io::Write;
use std::time::{Duration, Instant};

fn check(ok: bool, what: &str, detail: String, failed: &mut u32) {
    println!("{} {what}: {detail}", if ok { "ok  " } else { "FAIL" });
    if !ok {
        *failed += 1;
    }
}

fn main() {
    let mut failed = 0;

    // 1. polling's timeout (timerfd_settime through rustix). Broken on 32-bit
    //    musl MIPS without --cfg=fix_y2038: EINVAL, an early wake-up, or a hang.
    let poller = polling::Poller::new().expect("Poller::new");
    let mut events = polling::Events::new();
    for ms in [30u64, 250] {
        let t = Instant::now();
        let r = poller.wait(&mut events, Some(Duration::from_millis(ms)));
        let el = t.elapsed();
        check(
            r.is_ok() && el >= Duration::from_millis(ms) && el < Duration::from_millis(ms + 2000),
            &format!("polling wait({ms} ms)"),
            format!("{r:?} after {el:?}"),
            &mut failed,
        );
    }
    let r = poller.wait(&mut events, Some(Duration::ZERO));
    check(r.is_ok(), "polling wait(0)", format!("{r:?}"), &mut failed);

    // 2. 64-bit file offsets on 32-bit targets (large files are served with
    //    pread/sendfile at offsets past 4 GiB).
    let path = std::env::temp_dir().join(format!("rttpd-probe-{}", std::process::id()));
    let res = (|| -> std::io::Result<(u64, Vec<u8>)> {
        let mut f = std::fs::File::create(&path)?;
        let off: u64 = 5 << 30; // 5 GiB, sparse
        f.set_len(off)?;
        std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(off))?;
        f.write_all(b"tail")?;
        let len = f.metadata()?.len();
        let f = std::fs::File::open(&path)?;
        let mut buf = [0u8; 4];
        let n = nix::sys::uio::pread(&f, &mut buf, off as i64).map_err(std::io::Error::from)?;
        Ok((len, buf[..n].to_vec()))
    })();
    let _ = std::fs::remove_file(&path);
    check(
        matches!(&res, Ok((len, b)) if *len == (5 << 30) + 4 && b == b"tail"),
        "sparse 5 GiB file, pread past 4 GiB",
        format!("{res:?}"),
        &mut failed,
    );

    // 3. The wall clock and the monotonic clock work (time64 paths).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    check(
        matches!(now, Ok(d) if d.as_secs() > 1_600_000_000),
        "SystemTime::now",
        format!("{now:?}"),
        &mut failed,
    );

    if failed > 0 {
        println!("probe: {failed} check(s) failed");
        std::process::exit(1);
    }
    println!("probe: all checks passed");
}
