// PeerDrop in Android's share sheet: reads SEND / SEND_MULTIPLE intents (content URIs and their
// display names, or a shared text) and VIEW intents for peerdrop: links, and hands them to the Rust side
// (src-tauri/launch/src/android.rs) over the channel it registers with setShareHandler.
// The intent that started the app is kept until that channel exists; later ones arrive through
// onNewIntent (the activity is singleTask).
package org.peerdrop.share

import android.app.Activity
import android.content.Intent
import android.net.Uri
import android.os.Build
import android.provider.OpenableColumns
import android.webkit.WebView
import app.tauri.annotation.Command
import app.tauri.annotation.InvokeArg
import app.tauri.annotation.TauriPlugin
import app.tauri.plugin.Channel
import app.tauri.plugin.Invoke
import app.tauri.plugin.JSArray
import app.tauri.plugin.JSObject
import app.tauri.plugin.Plugin

@InvokeArg
class SetShareHandlerArgs {
    lateinit var handler: Channel
}

@TauriPlugin
class ShareIntentPlugin(private val activity: Activity) : Plugin(activity) {
    private var handler: Channel? = null
    private val waiting = mutableListOf<JSObject>()

    override fun load(webView: WebView) {
        super.load(webView)
        read(activity.intent)?.let { hand(it) }
    }

    override fun onNewIntent(intent: Intent) {
        read(intent)?.let { hand(it) }
    }

    @Command
    fun setShareHandler(invoke: Invoke) {
        val args = invoke.parseArgs(SetShareHandlerArgs::class.java)
        handler = args.handler
        waiting.forEach { args.handler.send(it) }
        waiting.clear()
        invoke.resolve()
    }

    private fun hand(shared: JSObject) {
        val channel = handler
        if (channel == null) waiting.add(shared) else channel.send(shared)
    }

    /** What an intent shares with us, or null when it shares nothing we handle. */
    private fun read(intent: Intent?): JSObject? {
        if (intent == null) return null
        val offered: List<Uri> = when (intent.action) {
            Intent.ACTION_SEND -> listOfNotNull(stream(intent))
            Intent.ACTION_SEND_MULTIPLE -> streams(intent)
            else -> emptyList()
        }
        // Only content:// URIs, which the sharing app grants us: a file:// URI would be opened
        // with PeerDrop's own rights (e.g. its private folder), whoever shared it.
        val uris = offered.filter { it.scheme == "content" }
        val link = if (intent.action == Intent.ACTION_VIEW && intent.data?.scheme == "peerdrop") {
            intent.data.toString()
        } else null
        // A text or link shared from another app (a browser's "Share" of a page, a note):
        // SEND with EXTRA_TEXT and no stream. The Rust side trims and bounds it.
        val text = if (intent.action == Intent.ACTION_SEND && offered.isEmpty()) {
            intent.getCharSequenceExtra(Intent.EXTRA_TEXT)?.toString()
        } else null
        if (uris.isEmpty() && link == null && text == null) return null
        val items = JSArray()
        for (uri in uris) {
            val item = JSObject()
            item.put("uri", uri.toString())
            displayName(uri)?.let { item.put("name", it) }
            items.put(item)
        }
        val shared = JSObject()
        shared.put("items", items)
        if (link != null) shared.put("link", link)
        if (text != null) shared.put("text", text)
        // Handled once: a recreated activity must not share the same files again.
        intent.action = null
        return shared
    }

    private fun stream(intent: Intent): Uri? =
        if (Build.VERSION.SDK_INT >= 33) {
            intent.getParcelableExtra(Intent.EXTRA_STREAM, Uri::class.java)
        } else {
            @Suppress("DEPRECATION")
            intent.getParcelableExtra(Intent.EXTRA_STREAM)
        }

    private fun streams(intent: Intent): List<Uri> =
        (if (Build.VERSION.SDK_INT >= 33) {
            intent.getParcelableArrayListExtra(Intent.EXTRA_STREAM, Uri::class.java)
        } else {
            @Suppress("DEPRECATION")
            intent.getParcelableArrayListExtra<Uri>(Intent.EXTRA_STREAM)
        }) ?: emptyList()

    /** The provider's display name (OpenableColumns.DISPLAY_NAME), if it offers one. */
    private fun displayName(uri: Uri): String? {
        if (uri.scheme != "content") return uri.lastPathSegment
        return try {
            activity.contentResolver.query(uri, arrayOf(OpenableColumns.DISPLAY_NAME), null, null, null)
                ?.use { cursor -> if (cursor.moveToFirst()) cursor.getString(0) else null }
        } catch (e: Exception) {
            null
        }
    }
}
