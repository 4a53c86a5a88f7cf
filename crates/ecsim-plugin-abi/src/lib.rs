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
///
/// The fields are private: a value is either made by [`Bytes::new`] from a live slice, or
/// received as an argument of a table function, whose caller promised the same (the contract of
/// [`PluginTable`]). Reading one is therefore safe.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Bytes<'a> {
    /// Start of the bytes (may be dangling when `len` is 0).
    ptr: *const u8,
    /// How many.
    len: usize,
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
    pub fn as_slice(&self) -> &'a [u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` and `len` come from a slice that lives for `'a`: `new` took them from
        // one, and a value received through the table was made by `new` on the other side, as
        // the table's contract requires of the caller.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// Bytes allocated by the plugin and handed to the host, which must give them back with
/// [`PluginTable::free`].
///
/// The fields are private: a value is made by [`OwnedBytes::from_vec`], on the plugin's side,
/// and reaches the host only as the return value of a table function. Reading one is safe (it
/// owns its allocation until it is given back, which consumes it); rebuilding the `Vec` is not,
/// because only the library that made it may ([`OwnedBytes::into_vec`]). Dropping one without
/// giving it back leaks it, which is safe.
#[repr(C)]
#[derive(Debug)]
pub struct OwnedBytes {
    /// Start of the allocation.
    ptr: *mut u8,
    /// Bytes in use.
    len: usize,
    /// Bytes allocated.
    capacity: usize,
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
    /// `self` must have been made by [`OwnedBytes::from_vec`] in the library (the copy of the
    /// standard library, hence the allocator) that calls this.
    pub unsafe fn into_vec(self) -> Vec<u8> {
        // SAFETY: the parts come from a Vec of this library's allocator, as documented.
        unsafe { Vec::from_raw_parts(self.ptr, self.len, self.capacity) }
    }

    /// The bytes (host side, before giving them back).
    pub fn as_slice(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the parts come from a live Vec (`from_vec`, possibly in the library that
        // returned this value), which is freed only by consuming `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// A static string of the library (its SDK version).
///
/// The fields are private: a value is made by [`StaticStr::new`] from a `&'static str`. A
/// loaded library's statics live as long as the library, and ecsim never unloads one.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct StaticStr {
    /// UTF-8 bytes, not NUL-terminated.
    ptr: *const u8,
    /// How many.
    len: usize,
}

impl StaticStr {
    /// Points at a static string.
    pub const fn new(text: &'static str) -> Self {
        Self {
            ptr: text.as_ptr(),
            len: text.len(),
        }
    }

    /// The text, if it is UTF-8 (a library of another ABI version could put anything there;
    /// the host reads it only after checking the version, but does not trust it further).
    pub fn to_str(self) -> Option<&'static str> {
        // SAFETY: `new` took the parts from a `&'static str`.
        let bytes = unsafe { std::slice::from_raw_parts(self.ptr, self.len) };
        std::str::from_utf8(bytes).ok()
    }
}

/// What a plugin library offers. Every function must catch panics itself (the SDK does): a
/// panic unwinding out of an `extern "C"` function aborts the host.
///
/// The functions are `unsafe` to call: they are another library's code, reached through a
/// pointer whose type only the checks below vouch for.
///
/// # Safety
///
/// A caller of the table's functions must ensure that:
///
/// - the table's [`PluginTable::abi_version`] is [`ABI_VERSION`] and its
///   [`PluginTable::table_size`] at least [`PluginTable::SIZE`] (a table of another version may
///   hold functions of other signatures, or fewer of them);
/// - [`PluginTable::free`] is given only bytes a function of the same table returned, each
///   once (the library gives them back to its own allocator).
///
/// A library's functions, in turn, must keep the contract of this crate's documentation:
/// replies are [`OwnedBytes::from_vec`] of encoded messages, and nothing unwinds out.
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
    pub manifest: unsafe extern "C" fn() -> OwnedBytes,
    /// A `CreateRequest` in, a `CreateReply` out.
    pub create: unsafe extern "C" fn(request: Bytes<'_>) -> OwnedBytes,
    /// An instance and a `CallRequest` in, a `CallReply` out.
    pub call: unsafe extern "C" fn(instance: u64, request: Bytes<'_>) -> OwnedBytes,
    /// An instance in, a `DestroyReply` out.
    pub destroy: unsafe extern "C" fn(instance: u64) -> OwnedBytes,
    /// Gives back bytes the library returned.
    pub free: unsafe extern "C" fn(bytes: OwnedBytes),
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
        assert_eq!(owned.as_slice(), b"hello");
        // SAFETY: from_vec above, freed once.
        assert_eq!(unsafe { owned.into_vec() }, b"hello");
        let empty = OwnedBytes::from_vec(Vec::new());
        assert!(empty.as_slice().is_empty());
        // SAFETY: as above.
        drop(unsafe { empty.into_vec() });
    }

    #[test]
    fn borrowed_bytes_and_static_strings_read_back() {
        let data = [1_u8, 2, 3];
        assert_eq!(Bytes::new(&data).as_slice(), &data);
        assert!(Bytes::new(&[]).as_slice().is_empty());
        assert_eq!(StaticStr::new("1.2.3").to_str(), Some("1.2.3"));
        assert_eq!(ENTRY_SYMBOL.last(), Some(&0));
    }
}
