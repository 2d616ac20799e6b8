// PeerDrop on the LAN: Android drops incoming multicast on Wi-Fi to save battery unless an app
// holds a WifiManager.MulticastLock, and without multicast no mDNS/DNS-SD answers arrive, so
// nearby devices never appear. This plugin takes the lock when the app starts (the Rust side
// registers it next to the share plugin, src-tauri/launch/src/android.rs) and gives it back when
// the activity is destroyed. Needs android.permission.CHANGE_WIFI_MULTICAST_STATE (manifest).
// It cannot run on the CI machines (no Android SDK); docs/android.md says how to check it.
package org.peerdrop.share

import android.app.Activity
import android.content.Context
import android.net.wifi.WifiManager
import android.util.Log
import android.webkit.WebView
import androidx.appcompat.app.AppCompatActivity
import app.tauri.annotation.TauriPlugin
import app.tauri.plugin.Plugin

@TauriPlugin
class LanMulticastPlugin(private val activity: Activity) : Plugin(activity) {
    private var lock: WifiManager.MulticastLock? = null

    override fun load(webView: WebView) {
        super.load(webView)
        val wifi = activity.applicationContext.getSystemService(Context.WIFI_SERVICE) as? WifiManager
        if (wifi == null) {
            Log.w(TAG, "no Wi-Fi service: LAN discovery works on other interfaces only")
            return
        }
        lock = wifi.createMulticastLock("peerdrop-lan-discovery").apply {
            setReferenceCounted(false)
            acquire()
        }
        Log.i(TAG, "multicast lock held: mDNS answers reach PeerDrop")
    }

    override fun onDestroy(activity: AppCompatActivity) {
        lock?.let { if (it.isHeld) it.release() }
        lock = null
        super.onDestroy(activity)
    }

    companion object {
        private const val TAG = "PeerDropLan"
    }
}
