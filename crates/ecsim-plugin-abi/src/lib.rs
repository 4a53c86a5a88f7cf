//! The binary interface between ecsim and a plugin library.
//!
//! Rust has no stable ABI, and every cdylib carries its own copy of the runtime's globals
//! (allocator state, tokio's thread-locals), so nothing Rust-typed crosses this boundary: no
//! trait object, future, `String`, `Vec` or handle. What crosses is this file's `#[repr(C)]`
//! types and bytes: every request and reply is a prost-encoded message of
//! `proto/ecsim/plugin/v1/plugin.proto`.
//!
//! A library exports one symbol, [`ENTRY_SYMBOL`], an `extern "C"` function returning a pointer
//! to a static [`PluginTable`]. The host checks, in order: the table's [`PluginTable::abi_version`]
//! (must equal [`ABI_VERSION`]), its [`PluginTable::table_size`] (at least the size the host
//! knows), the SDK version the library was built with (same major version), then the manifest.
//!
//! Memory: bytes the host passes ([`Bytes`]) are borrowed for the duration of the call. Bytes a
//! plugin returns ([`OwnedBytes`]) were allocated by the plugin, and the host gives them back
//! through [`PluginTable::free`] — never to its own allocator.
//!
//! This crate has no dependencies, so that a plugin built with any version of anything links
//! against it.

use std::marker::PhantomData;

/// The ABI version of this crate. Incremented on any incompatible change to the table or to
/// the meaning of its functions.
pub const ABI_VERSION: u32 = 1;

/// The name of the symbol every plugin library exports (NUL-terminated, as `dlsym` wants it).
pub const ENTRY_SYMBOL: &[u8] = b"ecsim_plugin_entry_v1\0";

/// The entry function's type.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginTable;

/// Bytes borrowed from the caller for the duration of one call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a> {
    /// Start of the bytes (may be dangling when `len` is 0).
    pub ptr: *const u8,
    /// How many.
    pub len: usize,
    _borrow: PhantomData<&'a [u8]>,
}

impl<'a> Bytes<'a> {
    /// Borrows a slice.
    pub fn new(slice: &'a [u8]) -> Self {
        Self {
            ptr: slice.as_ptr(),
            len: slice.len(),
            _borrow: PhantomData,
        }
    }

    /// The bytes as a slice.
    ///
    /// # Safety
    ///
    /// `ptr` must point to `len` readable bytes that live for `'a`, as [`Bytes::new`] makes them.
    pub unsafe fn as_slice(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: guaranteed by the caller, as documented.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Bytes allocated by the plugin and handed to the host, which must give them back with
/// [`PluginTable::free`].
#[repr(C)]
#[derive(Debug)]
pub struct OwnedBytes {
    /// Start of the allocation.
    pub ptr: *mut u8,
    /// Bytes in use.
    pub len: usize,
    /// Bytes allocated.
    pub capacity: usize,
}

impl OwnedBytes {
    /// Gives up a `Vec` (plugin side); the host returns it through [`PluginTable::free`], which
    /// rebuilds the `Vec` with [`OwnedBytes::into_vec`] on the plugin's side.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        let mut bytes = std::mem::ManuallyDrop::new(bytes);
        Self {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
            capacity: bytes.capacity(),
        }
    }

    /// Takes the allocation back (plugin side, in `free`).
    ///
    /// # Safety
    ///
    /// `self` must come from [`OwnedBytes::from_vec`] in the same library, and be freed once.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        // SAFETY: the parts come from a Vec of this library's allocator, as documented.
        unsafe { Vec::from_raw_parts(self.ptr, self.len, self.capacity) }
    }

    /// The bytes (host side, before freeing).
    ///
    /// # Safety
    ///
    /// `ptr` must point to `len` readable bytes, as a plugin's [`OwnedBytes::from_vec`] makes
    /// them, not yet freed.
    pub unsafe fn as_slice(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: guaranteed by the caller, as documented.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// A static string of the library (its SDK version).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct StaticStr {
    /// UTF-8 bytes, not NUL-terminated.
    pub ptr: *const u8,
    /// How many.
    pub len: usize,
}

impl StaticStr {
    /// Points at a static string.
    pub const fn new(text: &'static str) -> Self {
        Self {
            ptr: text.as_ptr(),
            len: text.len(),
        }
    }

    /// The text, if it is UTF-8.
    ///
    /// # Safety
    ///
    /// `ptr` must point to `len` bytes that live for `'a` (a loaded library's statics live as
    /// long as the library; ecsim never unloads one).
    pub unsafe fn to_str<'a>(self) -> Option<&'a str> {
        // SAFETY: guaranteed by the caller, as documented.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes).ok()
    }
}

/// What a plugin library offers. Every function must catch panics itself (the SDK does): a
/// panic unwinding out of an `extern "C"` function aborts the host.
#[repr(C)]
#[derive(Debug)]
pub struct PluginTable {
    /// [`ABI_VERSION`] of the `ecsim-plugin-abi` the library was built with.
    pub abi_version: u32,
    /// `size_of::<PluginTable>()` in the library: a host reads only fields both know.
    pub table_size: u32,
    /// The `ecsim-plugin-sdk` version the library was built with (semver).
    pub sdk_version: StaticStr,
    /// A `Manifest`.
    pub manifest: extern "C" fn() -> OwnedBytes,
    /// A `CreateRequest` in, a `CreateReply` out.
    pub create: extern "C" fn(request: Bytes<'_>) -> OwnedBytes,
    /// An instance and a `CallRequest` in, a `CallReply` out.
    pub call: extern "C" fn(instance: u64, request: Bytes<'_>) -> OwnedBytes,
    /// An instance in, a `DestroyReply` out.
    pub destroy: extern "C" fn(instance: u64) -> OwnedBytes,
    /// Gives back bytes the library returned.
    pub free: extern "C" fn(bytes: OwnedBytes),
}

// SAFETY: a table is immutable static data: function pointers and a pointer to a static str.
unsafe impl Sync for PluginTable {}

impl PluginTable {
    /// The table's size, as a library records it in [`PluginTable::table_size`].
    pub const SIZE: u32 = size_of::<PluginTable>() as u32;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owned_bytes_round_trip_through_their_parts() {
        let owned = OwnedBytes::from_vec(b"hello".to_vec());
        // SAFETY: from_vec above, not yet freed.
        assert_eq!(unsafe { owned.as_slice() }, b"hello");
        // SAFETY: from_vec above, freed once.
        assert_eq!(unsafe { owned.into_vec() }, b"hello");
        let empty = OwnedBytes::from_vec(Vec::new());
        // SAFETY: as above.
        assert!(unsafe { empty.as_slice() }.is_empty());
        // SAFETY: as above.
        drop(unsafe { empty.into_vec() });
    }

    #[test]
    fn borrowed_bytes_and_static_strings_read_back() {
        let data = [1_u8, 2, 3];
        // SAFETY: made from a live slice.
        assert_eq!(unsafe { Bytes::new(&data).as_slice() }, &data);
        // SAFETY: a static str.
        assert_eq!(unsafe { StaticStr::new("1.2.3").to_str() }, Some("1.2.3"));
        assert_eq!(ENTRY_SYMBOL.last(), Some(&0));
    }
}
