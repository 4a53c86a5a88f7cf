//! The memory stored record batches live in: the system allocator's, not the process's global
//! one.
//!
//! A broker keeps what it is sent, so every byte stored is memory the process touches for the
//! first time. ecsim's binaries use mimalloc, which asks the kernel for transparent huge pages
//! (`MADV_HUGEPAGE`): a first touch then makes the kernel zero 2 MiB at once, and on the virtual
//! machines ecsim is developed and tested on that zeroing ran at about 350 MB/s — 90% of the
//! broker's CPU time for a produce (`ecsim-bench produce-cpu`: 3.6 ms a MiB against tansu's 1.2;
//! 1.2 with the system allocator's ordinary pages; BENCHMARKS.md). The simulator itself gains
//! from mimalloc's huge pages (about 10% on `ecsim-bench scale`), so the choice is made here, for
//! the stored bytes alone.

use std::{
    alloc::{GlobalAlloc as _, Layout, System, handle_alloc_error},
    ptr::NonNull,
};

use bytes::{BufMut as _, Bytes};

/// Bytes on the system allocator, written once when made and read-only after.
struct SystemBytes {
    ptr: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the bytes are owned, written only before the value is shared (`copy_with_offset`),
// and read-only after: sharing or sending them between threads is sharing a `&[u8]`.
unsafe impl Send for SystemBytes {}
// SAFETY: as above.
unsafe impl Sync for SystemBytes {}

impl AsRef<[u8]> for SystemBytes {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: `ptr` points to `layout.size()` initialized bytes (all written in
        // `copy_with_offset`), owned by `self` and alive until `drop`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.layout.size()) }
    }
}

impl Drop for SystemBytes {
    fn drop(&mut self) {
        // SAFETY: `ptr` was allocated by `System` with `layout`, and is freed once, here.
        unsafe { System.dealloc(self.ptr.as_ptr(), self.layout) }
    }
}

/// A stored copy of `batch` (a record batch's bytes, at least its 12-byte prefix), its first
/// 8 bytes — the base offset, which its checksum does not cover — set to `base_offset`.
pub(crate) fn copy_with_offset(batch: &[u8], base_offset: i64) -> Bytes {
    if batch.len() < 8 {
        // Never a checked batch; kept whole so that nothing is lost.
        return Bytes::copy_from_slice(batch);
    }
    let Ok(layout) = Layout::from_size_align(batch.len(), 1) else {
        return Bytes::copy_from_slice(batch); // past isize::MAX: cannot be
    };
    // SAFETY: `layout` has a non-zero size (checked above).
    let raw = unsafe { System.alloc(layout) };
    let Some(ptr) = NonNull::new(raw) else {
        handle_alloc_error(layout)
    };
    // SAFETY: `ptr` is valid for `batch.len()` bytes, freshly allocated, so it does not overlap
    // `batch`; every byte of it is written here, before anything reads it.
    let written = unsafe {
        std::ptr::copy_nonoverlapping(batch.as_ptr(), ptr.as_ptr(), batch.len());
        std::slice::from_raw_parts_mut(ptr.as_ptr(), batch.len())
    };
    (&mut written[..8]).put_i64(base_offset);
    Bytes::from_owner(SystemBytes { ptr, layout })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_has_the_new_offset_and_the_rest_as_it_was() {
        let batch: Vec<u8> = (0..100).collect();
        let stored = copy_with_offset(&batch, 0x0102_0304_0506_0708);
        assert_eq!(&stored[..8], &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(&stored[8..], &batch[8..]);
        let slice = stored.slice(10..20);
        drop(stored);
        assert_eq!(&slice[..], &batch[10..20], "a slice keeps the bytes alive");
    }
}
