//! The process's allocator: the system `malloc`, with over-aligned blocks
//! taken from `malloc` too.
//!
//! The system allocator serves an alignment above 16 bytes with
//! `posix_memalign`, which in glibc bypasses the per-thread cache and
//! carves an aligned chunk out of a larger one on every call: about 800
//! instructions, against a few dozen for a cached `malloc`. tokio aligns
//! every task and every socket registration to 128 bytes, so each client
//! connection paid that twice, and each HTTP/2 stream (a task) once.
//! [`Allocator`] serves such a request with `malloc(size + align)` and
//! hands out the first aligned address inside the block, with the block's
//! start stored in the word just before it. It costs up to `align` bytes
//! per over-aligned block (what `posix_memalign` splits off and frees).

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;

/// The alignment `malloc` guarantees on 64-bit targets, and the largest
/// the system allocator serves with plain `malloc`.
const MALLOC_ALIGN: usize = 16;

/// Alignments above this (pages and up) go to the system allocator as
/// they are: over-allocating by a page or more would waste memory.
const MAX_SHIFTED_ALIGN: usize = 4096;

/// The global allocator stgw's binary installs (see the module docs).
/// Blocks with an alignment up to 16 bytes, or above 4096, are the system
/// allocator's, untouched.
#[derive(Debug, Clone, Copy, Default)]
pub struct Allocator;

/// Whether a block with this layout is served from an over-sized block.
fn shifted(layout: Layout) -> bool {
    layout.align() > MALLOC_ALIGN && layout.align() <= MAX_SHIFTED_ALIGN
}

/// The layout of the over-sized block behind a shifted `layout`: room for
/// the worst-case shift (`align` bytes), pointer-aligned.
fn backing(layout: Layout) -> Option<Layout> {
    let size = layout.size().checked_add(layout.align())?;
    Layout::from_size_align(size, std::mem::align_of::<*mut u8>()).ok()
}

// SAFETY: every method keeps GlobalAlloc's contract: shifted blocks are
// aligned to `layout.align()`, hold `layout.size()` bytes inside their
// backing block, and are freed through the start stored before them;
// everything else is the system allocator's.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !shifted(layout) {
            // SAFETY: the caller's contract, passed on.
            return unsafe { System.alloc(layout) };
        }
        let Some(outer) = backing(layout) else {
            return ptr::null_mut();
        };
        // SAFETY: `outer` has a non-zero size (it includes `align`).
        let start = unsafe { System.alloc(outer) };
        if start.is_null() {
            return start;
        }
        // `start` is at least pointer-aligned, so the shift to the next
        // multiple of `align` (above `start`, never at it) is at least one
        // pointer wide and at most `align`: the block ends inside `outer`.
        let shift = layout.align() - (start as usize & (layout.align() - 1));
        // SAFETY: `shift <= align`, inside `outer`; the word before the
        // aligned address is inside `outer` too, and pointer-aligned.
        unsafe {
            let block = start.add(shift);
            block.cast::<*mut u8>().sub(1).write(start);
            block
        }
    }

    unsafe fn dealloc(&self, block: *mut u8, layout: Layout) {
        if !shifted(layout) {
            // SAFETY: the caller's contract, passed on.
            return unsafe { System.dealloc(block, layout) };
        }
        // SAFETY: `block` came from `alloc` with this layout, which stored
        // its backing block's start just before it; `backing` succeeded
        // then, so it does now.
        unsafe {
            let start = block.cast::<*mut u8>().sub(1).read();
            if let Some(outer) = backing(layout) {
                System.dealloc(start, outer);
            }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !shifted(layout) {
            // SAFETY: the caller's contract, passed on.
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: as `alloc`; a non-null block holds `layout.size()` bytes.
        unsafe {
            let block = self.alloc(layout);
            if !block.is_null() {
                ptr::write_bytes(block, 0, layout.size());
            }
            block
        }
    }

    unsafe fn realloc(&self, block: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !shifted(layout) {
            // SAFETY: the caller's contract, passed on.
            return unsafe { System.realloc(block, layout, new_size) };
        }
        // SAFETY: the caller guarantees `new_size` with `layout.align()`
        // is a valid layout; the old block holds `layout.size()` bytes.
        unsafe {
            let grown = Layout::from_size_align_unchecked(new_size, layout.align());
            let moved = self.alloc(grown);
            if !moved.is_null() {
                ptr::copy_nonoverlapping(block, moved, layout.size().min(new_size));
                self.dealloc(block, layout);
            }
            moved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALIGNS: [usize; 8] = [1, 8, 16, 32, 64, 128, 4096, 8192];
    const SIZES: [usize; 6] = [1, 24, 127, 896, 5000, 70_000];

    /// Every size with every alignment.
    fn layouts() -> impl Iterator<Item = Layout> {
        ALIGNS.into_iter().flat_map(|align| {
            SIZES
                .into_iter()
                .map(move |size| Layout::from_size_align(size, align).unwrap())
        })
    }

    fn fill(block: *mut u8, len: usize, seed: u8) {
        for i in 0..len {
            // SAFETY: `block` holds `len` bytes.
            unsafe { block.add(i).write(seed.wrapping_add(i as u8)) };
        }
    }

    fn holds(block: *mut u8, len: usize, seed: u8) -> bool {
        // SAFETY: `block` holds `len` initialised bytes.
        (0..len).all(|i| unsafe { block.add(i).read() } == seed.wrapping_add(i as u8))
    }

    #[test]
    fn blocks_are_aligned_writable_and_kept_apart() {
        let a = Allocator;
        for layout in layouts() {
            let size = layout.size();
            // Several at once: one block's stored start must not be inside
            // another's bytes.
            let blocks: Vec<*mut u8> = (0..8)
                .map(|n| {
                    // SAFETY: non-zero size.
                    let b = unsafe { a.alloc(layout) };
                    assert!(!b.is_null());
                    assert_eq!(b as usize % layout.align(), 0, "{layout:?}");
                    fill(b, size, n);
                    b
                })
                .collect();
            for (n, &b) in blocks.iter().enumerate() {
                assert!(holds(b, size, n as u8), "{layout:?}");
                // SAFETY: allocated above with `layout`.
                unsafe { a.dealloc(b, layout) };
            }
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_and_aligned() {
        let a = Allocator;
        for layout in layouts() {
            let size = layout.size();
            // Dirty a block first, so a reused one would show.
            // SAFETY: non-zero size; freed below with the same layout.
            unsafe {
                let dirty = a.alloc(layout);
                fill(dirty, size, 0xa5);
                a.dealloc(dirty, layout);
                let b = a.alloc_zeroed(layout);
                assert_eq!(b as usize % layout.align(), 0, "{layout:?}");
                assert!((0..size).all(|i| b.add(i).read() == 0), "{layout:?}");
                a.dealloc(b, layout);
            }
        }
    }

    #[test]
    fn realloc_keeps_the_bytes_and_the_alignment() {
        let a = Allocator;
        for align in ALIGNS {
            for (from, to) in [(24, 5000), (5000, 24), (896, 896), (127, 70_000)] {
                let layout = Layout::from_size_align(from, align).unwrap();
                // SAFETY: non-zero sizes; `to` with `align` is a valid layout.
                unsafe {
                    let b = a.alloc(layout);
                    fill(b, from, 7);
                    let moved = a.realloc(b, layout, to);
                    assert!(!moved.is_null());
                    assert_eq!(moved as usize % align, 0, "{from} -> {to}, align {align}");
                    assert!(
                        holds(moved, from.min(to), 7),
                        "{from} -> {to}, align {align}"
                    );
                    a.dealloc(moved, Layout::from_size_align(to, align).unwrap());
                }
            }
        }
    }

    #[test]
    fn only_alignments_above_malloc_and_up_to_a_page_are_shifted() {
        let shifted_at = |align| shifted(Layout::from_size_align(64, align).unwrap());
        assert!(!shifted_at(16));
        assert!(shifted_at(32));
        assert!(shifted_at(128));
        assert!(shifted_at(4096));
        assert!(!shifted_at(8192));
        // The largest size a 4096-aligned layout can have: no room to shift.
        let largest = isize::MAX as usize - 4095;
        assert!(backing(Layout::from_size_align(largest, 4096).unwrap()).is_none());
    }
}
