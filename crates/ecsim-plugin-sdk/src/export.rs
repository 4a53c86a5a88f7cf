//! The library side of the C table: what [`declare_plugins!`](crate::declare_plugins) expands
//! to calls into. Not for plugin authors to call.
//!
//! Every function here decodes its request, runs the plugin and returns an encoded reply in a
//! buffer ecsim hands back through `free`, all inside `catch_unwind`: a panic unwinding into
//! ecsim through an `extern "C"` function would abort the whole simulator, so a panic anywhere
//! (the plugin's code or this file's) becomes an error in the reply.

use std::{
    cell::RefCell,
    collections::BTreeMap,
    panic::{AssertUnwindSafe, catch_unwind},
    sync::{Arc, Mutex, MutexGuard, Once, OnceLock, PoisonError},
};

pub use ecsim_plugin_abi as abi;
use ecsim_plugin_abi::{Bytes, OwnedBytes};
use ecsim_proto::{
    plugin::{
        CallReply, CallRequest, CreateReply, CreateRequest, DestroyReply, Manifest, PluginInfo,
        create_reply,
    },
    prost::Message,
};

use crate::{Call, CallError, Plugin, Setup};

/// An instance of any of the library's plugins.
trait Instance: Send {
    fn call(&mut self, call: &mut Call) -> Result<String, CallError>;
    fn destroy(&mut self) -> Result<(), String>;
}

impl<P: Plugin> Instance for P {
    fn call(&mut self, call: &mut Call) -> Result<String, CallError> {
        Plugin::call(self, call)
    }
    fn destroy(&mut self) -> Result<(), String> {
        Plugin::destroy(self)
    }
}

/// One of the library's plugins, type-erased.
pub struct Factory {
    info: PluginInfo,
    create: fn(&Setup) -> Result<Box<dyn Instance>, String>,
}

impl std::fmt::Debug for Factory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Factory")
            .field("name", &self.info.name)
            .finish()
    }
}

impl Factory {
    /// The factory of plugin `P`.
    pub fn of<P: Plugin>() -> Self {
        fn make<P: Plugin>(setup: &Setup) -> Result<Box<dyn Instance>, String> {
            P::create(setup).map(|plugin| Box::new(plugin) as Box<dyn Instance>)
        }
        Self {
            info: PluginInfo {
                name: P::NAME.to_owned(),
                pretty_name: P::PRETTY_NAME.to_owned(),
                functions: P::FUNCTIONS.iter().map(|f| (*f).to_owned()).collect(),
                endpoint: P::ENDPOINT.to_owned(),
            },
            create: make::<P>,
        }
    }
}

type Shared = Arc<Mutex<Box<dyn Instance>>>;

/// The library's live instances, by the id handed to ecsim.
fn instances() -> MutexGuard<'static, (u64, BTreeMap<u64, Shared>)> {
    static INSTANCES: OnceLock<Mutex<(u64, BTreeMap<u64, Shared>)>> = OnceLock::new();
    INSTANCES
        .get_or_init(|| Mutex::new((0, BTreeMap::new())))
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
}

thread_local! {
    /// The message and place of the last panic on this thread, captured by the hook below.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Whether this thread is inside a guarded plugin function.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Installs, once, a panic hook in this library's copy of the standard library: inside a
/// guarded function the panic's message and location are kept for the reply instead of printed
/// (ecsim reports them); elsewhere (a plugin's own threads) the previous hook runs.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if GUARDED.with(std::cell::Cell::get) {
                let message = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "(no message)".to_owned());
                let place = info
                    .location()
                    .map(|l| format!(" at {}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_default();
                LAST_PANIC.with(|last| *last.borrow_mut() = Some(format!("{message}{place}")));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs `f`, turning a panic into `Err(message)`. Calls nest: the inner one reports the panic.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_panic_hook();
    let outer = GUARDED.with(|g| g.replace(true));
    let result = catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(outer));
    result.map_err(|_| {
        LAST_PANIC
            .with(|last| last.borrow_mut().take())
            .unwrap_or_else(|| "(no message)".to_owned())
    })
}

fn encode(message: &impl Message) -> OwnedBytes {
    OwnedBytes::from_vec(message.encode_to_vec())
}

/// The manifest: SDK version and every plugin's name and functions.
pub fn manifest(factories: fn() -> Vec<Factory>) -> OwnedBytes {
    let manifest = guarded(|| Manifest {
        sdk_version: crate::SDK_VERSION.to_owned(),
        plugins: factories().iter().map(|f| f.info.clone()).collect(),
        error: String::new(),
    })
    .unwrap_or_else(|panic| Manifest {
        sdk_version: crate::SDK_VERSION.to_owned(),
        plugins: Vec::new(),
        error: format!("panicked while listing its plugins: {panic}"),
    });
    encode(&manifest)
}

fn create_error(error: String) -> OwnedBytes {
    encode(&CreateReply {
        result: Some(create_reply::Result::Error(error)),
    })
}

/// Makes an instance of the plugin the request names.
pub fn create(factories: fn() -> Vec<Factory>, request: Bytes<'_>) -> OwnedBytes {
    guarded(|| create_guarded(&factories(), request.as_slice()))
        .unwrap_or_else(|panic| create_error(format!("panicked while starting: {panic}")))
}

fn create_guarded(factories: &[Factory], bytes: &[u8]) -> OwnedBytes {
    let request = match CreateRequest::decode(bytes) {
        Ok(request) => request,
        Err(error) => return create_error(format!("the create request does not decode: {error}")),
    };
    let Some(factory) = factories.iter().find(|f| f.info.name == request.plugin) else {
        let names: Vec<&str> = factories.iter().map(|f| f.info.name.as_str()).collect();
        return create_error(format!(
            "this library has no plugin {:?} (it has: {})",
            request.plugin,
            names.join(", ")
        ));
    };
    let config = if request.config_json.trim().is_empty() {
        serde_json::Value::Null
    } else {
        match serde_json::from_str(&request.config_json) {
            Ok(config) => config,
            Err(error) => {
                return create_error(format!("the configuration is not JSON: {error}"));
            }
        }
    };
    let setup = Setup {
        plugin: request.plugin,
        instance_id: request.instance_id,
        config,
        seed: request.seed,
        virtual_time: request.virtual_time,
    };
    match guarded(|| (factory.create)(&setup)) {
        Ok(Ok(instance)) => {
            let mut registry = instances();
            registry.0 += 1;
            let id = registry.0;
            registry.1.insert(id, Arc::new(Mutex::new(instance)));
            encode(&CreateReply {
                result: Some(create_reply::Result::Instance(id)),
            })
        }
        Ok(Err(error)) => create_error(error),
        Err(panic) => create_error(format!("panicked while starting: {panic}")),
    }
}

fn call_error(message: String, reason: String, panicked: bool) -> OwnedBytes {
    encode(&CallReply {
        error: Some(ecsim_proto::plugin::CallError {
            message,
            reason,
            panicked,
        }),
        ..Default::default()
    })
}

/// Runs one call on an instance.
pub fn call(instance: u64, request: Bytes<'_>) -> OwnedBytes {
    guarded(|| call_guarded(instance, request.as_slice())).unwrap_or_else(|panic| {
        call_error(format!("plugin instance {instance} panicked"), panic, true)
    })
}

fn call_guarded(instance: u64, bytes: &[u8]) -> OwnedBytes {
    let failed = |message: String| call_error(message, String::new(), false);
    let request = match CallRequest::decode(bytes) {
        Ok(request) => request,
        Err(error) => return failed(format!("the call request does not decode: {error}")),
    };
    let Some(shared) = instances().1.get(&instance).cloned() else {
        return failed(format!("there is no plugin instance {instance}"));
    };
    let func = request.func.clone();
    let mut plugin = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let mut call = Call::new(request);
    // What the call published before a panic stays published, as a Go plugin's events are.
    let (outcome, panicked) = match guarded(|| plugin.call(&mut call)) {
        Ok(outcome) => (outcome, false),
        Err(panic) => (
            Err(CallError::new(format!("{func} panicked")).reason(panic)),
            true,
        ),
    };
    encode(&call.into_reply_of(outcome, panicked))
}

/// Destroys an instance.
pub fn destroy(instance: u64) -> OwnedBytes {
    guarded(|| destroy_guarded(instance)).unwrap_or_else(|panic| {
        encode(&DestroyReply {
            error: format!("panicked while stopping: {panic}"),
        })
    })
}

fn destroy_guarded(instance: u64) -> OwnedBytes {
    let Some(shared) = instances().1.remove(&instance) else {
        return encode(&DestroyReply {
            error: format!("there is no plugin instance {instance}"),
        });
    };
    let mut plugin = shared.lock().unwrap_or_else(PoisonError::into_inner);
    let error = match guarded(|| plugin.destroy()) {
        Ok(Ok(())) => String::new(),
        Ok(Err(error)) => error,
        Err(panic) => format!("panicked while stopping: {panic}"),
    };
    encode(&DestroyReply { error })
}

/// Gives back a buffer this library returned.
///
/// # Safety
///
/// `bytes` must have been returned by one of this file's functions (in this library), and be
/// given back once: the ABI's contract for [`abi::PluginTable::free`].
pub unsafe fn free(bytes: OwnedBytes) {
    // A panic here has nothing to report to and must not unwind into ecsim; the buffer leaks.
    let _ = guarded(|| {
        // SAFETY: every buffer this file returns was made by `OwnedBytes::from_vec` in
        // `encode`, in this library, and the caller gives it back once.
        drop(unsafe { bytes.into_vec() });
    });
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // a test that unwraps fails with the value it did not get

    use super::*;

    /// What the host does with a reply: read it, give it back.
    fn take(bytes: OwnedBytes) -> Vec<u8> {
        let copy = bytes.as_slice().to_vec();
        // SAFETY: returned by this file's functions just now, given back once.
        unsafe { free(bytes) };
        copy
    }

    fn no_plugins() -> Vec<Factory> {
        panic!("the factory list was told to panic")
    }

    #[test]
    fn a_panic_while_listing_plugins_is_a_manifest_error_not_an_unwind() {
        let manifest = Manifest::decode(take(manifest(no_plugins)).as_slice()).unwrap();
        assert!(manifest.plugins.is_empty());
        assert_eq!(manifest.sdk_version, crate::SDK_VERSION);
        assert!(
            manifest.error.starts_with(
                "panicked while listing its plugins: the factory list was told to panic at "
            ),
            "{}",
            manifest.error
        );
    }

    #[test]
    fn a_panic_outside_the_plugin_while_creating_is_a_create_error() {
        let request = CreateRequest {
            plugin: "probe".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let reply = CreateReply::decode(take(create(no_plugins, Bytes::new(&request))).as_slice());
        match reply.unwrap().result {
            Some(create_reply::Result::Error(error)) => assert!(
                error.starts_with("panicked while starting: the factory list was told to panic"),
                "{error}"
            ),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn unknown_instances_and_garbled_requests_are_errors_in_the_reply() {
        let reply = CallReply::decode(take(call(u64::MAX, Bytes::new(b"\xff\xff"))).as_slice());
        let error = reply.unwrap().error.unwrap();
        assert!(
            error
                .message
                .starts_with("the call request does not decode: "),
            "{}",
            error.message
        );
        let request = CallRequest::default().encode_to_vec();
        let reply = CallReply::decode(take(call(u64::MAX, Bytes::new(&request))).as_slice());
        assert_eq!(
            reply.unwrap().error.unwrap().message,
            format!("there is no plugin instance {}", u64::MAX)
        );
        let reply = DestroyReply::decode(take(destroy(u64::MAX)).as_slice()).unwrap();
        assert_eq!(
            reply.error,
            format!("there is no plugin instance {}", u64::MAX)
        );
    }
}
