//! Keeping a long-lived process small: one shim stays resident per container, so what each
//! one maps is paid as many times as there are containers.
//!
//! The binary is the whole multicall berth, and the kernel maps file pages around every
//! fault (on kernels with large page-cache folios, a whole folio at a time), so start-up leaves
//! a resident process mapping far more of the binary than its steady state runs. Dropping those
//! mappings once set-up is over leaves the page cache alone (other processes keep sharing it);
//! the next instruction or constant the process needs is mapped back on its next fault.

use std::ffi::c_void;

/// Result of [`shed_code_pages`]: what was dropped.
#[derive(Debug, Default, Clone, Copy)]
pub struct Shed {
    /// Read-only segments of the executable whose page mappings were dropped.
    pub segments: usize,
    /// Bytes those segments span.
    pub bytes: usize,
}

struct Segment {
    start: usize,
    len: usize,
}

/// Unmaps the pages of the executable's read-only segments (code and constants) from this
/// process, so only what runs from now on faults back in. Writable segments are never
/// touched: a private writable page may hold state that exists nowhere else (the RELRO part
/// of the data segment is written by the loader before it becomes read-only, and its
/// `PT_LOAD` is the writable one).
pub fn shed_code_pages() -> std::io::Result<Shed> {
    let mut segments: Vec<Segment> = Vec::new();
    // SAFETY: dl_iterate_phdr calls `collect` synchronously, on this thread, with a pointer
    // to a dl_phdr_info that is valid for the call; `data` is the `segments` vector, which
    // outlives the call and is not otherwise borrowed meanwhile.
    unsafe {
        libc::dl_iterate_phdr(Some(collect), (&mut segments as *mut Vec<Segment>).cast());
    }
    let page = page_size();
    let mut shed = Shed::default();
    for s in segments {
        // Only whole pages inside the segment: a partial page at either end may be shared
        // with a writable neighbour.
        let start = s.start.div_ceil(page) * page;
        let end = (s.start + s.len) / page * page;
        if end <= start {
            continue;
        }
        // SAFETY: [start, end) lies inside a read-only PT_LOAD segment of a loaded object,
        // which is a private file mapping that was never written: MADV_DONTNEED only drops
        // its page-table entries, and any later access re-reads the same bytes from the file.
        let rc = unsafe { libc::madvise(start as *mut c_void, end - start, libc::MADV_DONTNEED) };
        if rc != 0 {
            return Err(std::io::Error::last_os_error());
        }
        shed.segments += 1;
        shed.bytes += end - start;
    }
    Ok(shed)
}

/// dl_iterate_phdr callback: records the non-writable PT_LOAD segments of the first object
/// (the executable itself) and stops.
extern "C" fn collect(info: *mut libc::dl_phdr_info, _size: libc::size_t, data: *mut c_void) -> libc::c_int {
    // SAFETY: called by dl_iterate_phdr with a valid info pointer and our `data` (see caller).
    let (info, segments) = unsafe { (&*info, &mut *data.cast::<Vec<Segment>>()) };
    if info.dlpi_phdr.is_null() {
        return 1;
    }
    // SAFETY: dlpi_phdr points to dlpi_phnum program headers of the loaded object.
    let headers = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, usize::from(info.dlpi_phnum)) };
    for h in headers {
        if h.p_type == libc::PT_LOAD && h.p_flags & libc::PF_W == 0 {
            segments.push(Segment { start: info.dlpi_addr as usize + h.p_vaddr as usize, len: h.p_memsz as usize });
        }
    }
    // The first object is the executable; a static binary has no other.
    1
}

fn page_size() -> usize {
    // SAFETY: sysconf with a valid name has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as usize
    } else {
        4096
    }
}

/// [`shed_code_pages`], logged. Not inlined: what runs right after the shed must be mapped
/// again, so the link order (examples/link_order.rs) keeps this module with the shim's
/// steady-state code.
#[inline(never)]
pub fn shed_code() {
    match shed_code_pages() {
        Ok(s) => tracing::debug!("shed {} KiB of code mappings", s.bytes / 1024),
        Err(e) => tracing::warn!("shedding code mappings: {e}"),
    }
}

/// Lets every thread allocate from one malloc arena. glibc gives each thread that allocates
/// its own arena (up to 8 per core), and each keeps its touched pages; a shim's threads mostly
/// sleep, so they gain nothing from that.
pub fn single_malloc_arena() {
    // SAFETY: mallopt with an integer parameter; safe to call at any time.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rss_file_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        status.lines().find_map(|l| l.strip_prefix("RssFile:")).and_then(|v| v.split_whitespace().next()?.parse().ok()).unwrap_or(0)
    }

    #[test]
    fn shedding_drops_the_executables_file_pages_and_the_process_runs_on() {
        let before = rss_file_kib();
        let shed = shed_code_pages().expect("madvise on the executable's read-only segments");
        let after = rss_file_kib();
        assert!(shed.segments >= 1 && shed.bytes > 0, "nothing to shed: {shed:?}");
        assert!(after < before, "RssFile {before} KiB before the shed, {after} KiB after");
        // Code and constants fault back in: formatting, allocation and I/O still work.
        assert_eq!(format!("{:?}", vec![1, 2, 3]), "[1, 2, 3]");
    }
}
