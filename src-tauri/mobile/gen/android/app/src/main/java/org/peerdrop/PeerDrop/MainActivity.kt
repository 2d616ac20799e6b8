// The one activity: Tauri's activity hosts the WebView with PeerDrop's UI and starts the Rust
// side (libpeerdrop_app_mobile.so). Share-sheet and link intents reach it because it is
// singleTask (AndroidManifest.xml); org.peerdrop.share.ShareIntentPlugin reads them.
package org.peerdrop.PeerDrop

class MainActivity : TauriActivity()
