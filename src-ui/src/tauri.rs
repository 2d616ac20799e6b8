//! Bindings to the Tauri runtime the app injects as `window.__TAURI__` (`withGlobalTauri`).
//!
//! Three things are used: `core.invoke` to call a Rust command, `core.Channel` to receive a
//! stream of messages from a command (progress), and `event.listen` for window events
//! (files dropped on the window). Everything is typed with serde at this boundary, so the rest
//! of the UI never touches `JsValue`.

use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "core"], catch)]
    async fn invoke(cmd: &str, args: JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = ["window", "__TAURI__", "event"], catch)]
    async fn listen(event: &str, handler: &Closure<dyn FnMut(JsValue)>)
        -> Result<JsValue, JsValue>;
}

/// Serialises with maps as plain JS objects (what Tauri expects as command arguments).
fn to_js<T: Serialize>(value: &T) -> Result<JsValue, String> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| e.to_string())
}

/// Turns whatever a command rejected with into one line for the user.
fn error_text(err: JsValue) -> String {
    err.as_string()
        .or_else(|| {
            js_sys::JSON::stringify(&err)
                .ok()
                .and_then(|s| s.as_string())
        })
        .unwrap_or_else(|| "unknown error".to_string())
}

/// Calls the Rust command `cmd` with `args` (an object whose keys are the camelCase parameter
/// names) and decodes its answer. A rejected command becomes its error message.
pub async fn call<A: Serialize, R: DeserializeOwned>(cmd: &str, args: &A) -> Result<R, String> {
    let args = to_js(args)?;
    let value = invoke(cmd, args).await.map_err(error_text)?;
    serde_wasm_bindgen::from_value(value).map_err(|e| format!("bad answer from {cmd}: {e}"))
}

/// A `window.__TAURI__.core.Channel` whose messages are decoded as `T` and handed to a callback.
///
/// Pass [`Channel::js`] as a command argument; the Rust side sends on it with
/// `tauri::ipc::Channel<T>`. The callback lives as long as the page (channels are few: one for
/// the node, one per send), so the closure is intentionally leaked.
pub struct Channel {
    js: JsValue,
}

impl Channel {
    /// Creates a channel delivering each decoded message to `on_message`.
    pub fn new<T: DeserializeOwned + 'static>(
        mut on_message: impl FnMut(T) + 'static,
    ) -> Result<Self, String> {
        let ctor = js_sys::Reflect::get(&tauri_core()?, &JsValue::from_str("Channel"))
            .map_err(error_text)?
            .dyn_into::<js_sys::Function>()
            .map_err(|_| "window.__TAURI__.core.Channel is not a constructor".to_string())?;
        let js = js_sys::Reflect::construct(&ctor, &js_sys::Array::new()).map_err(error_text)?;
        let handler = Closure::<dyn FnMut(JsValue)>::new(move |msg: JsValue| {
            match serde_wasm_bindgen::from_value::<T>(msg) {
                Ok(value) => on_message(value),
                Err(e) => {
                    web_sys::console::error_1(&format!("undecodable channel message: {e}").into())
                }
            }
        });
        js_sys::Reflect::set(&js, &JsValue::from_str("onmessage"), handler.as_ref())
            .map_err(error_text)?;
        handler.forget();
        Ok(Self { js })
    }

    /// The JS object to pass as a command argument.
    pub fn js(&self) -> &JsValue {
        &self.js
    }
}

/// `window.__TAURI__.core`, or a clear error when the page is not running inside the app.
fn tauri_core() -> Result<JsValue, String> {
    let window: JsValue = web_sys::window().ok_or("no window")?.into();
    let tauri =
        js_sys::Reflect::get(&window, &JsValue::from_str("__TAURI__")).map_err(error_text)?;
    if tauri.is_undefined() {
        return Err("PeerDrop's UI must run inside the PeerDrop app".into());
    }
    js_sys::Reflect::get(&tauri, &JsValue::from_str("core")).map_err(error_text)
}

/// Calls a command that takes a [`Channel`] among its arguments. `args` is a JS object built
/// by the caller (serde cannot embed the channel object).
pub async fn call_with_channel<R: DeserializeOwned>(
    cmd: &str,
    args: &[(&str, JsValue)],
) -> Result<R, String> {
    let obj = js_sys::Object::new();
    for (key, value) in args {
        js_sys::Reflect::set(&obj, &JsValue::from_str(key), value).map_err(error_text)?;
    }
    let value = invoke(cmd, obj.into()).await.map_err(error_text)?;
    serde_wasm_bindgen::from_value(value).map_err(|e| format!("bad answer from {cmd}: {e}"))
}

/// Serialises a value for use in [`call_with_channel`]'s argument list.
pub fn arg<T: Serialize>(value: &T) -> Result<JsValue, String> {
    to_js(value)
}

/// Listens to a Tauri event for the life of the page, decoding its `payload` as `T`.
pub async fn listen_forever<T: DeserializeOwned + 'static>(
    event: &str,
    mut on_payload: impl FnMut(T) + 'static,
) -> Result<(), String> {
    let name = event.to_string();
    let handler = Closure::<dyn FnMut(JsValue)>::new(move |ev: JsValue| {
        let payload =
            js_sys::Reflect::get(&ev, &JsValue::from_str("payload")).unwrap_or(JsValue::NULL);
        match serde_wasm_bindgen::from_value::<T>(payload) {
            Ok(value) => on_payload(value),
            Err(e) => web_sys::console::warn_1(&format!("undecodable {name} payload: {e}").into()),
        }
    });
    listen(event, &handler).await.map_err(error_text)?;
    handler.forget();
    Ok(())
}
