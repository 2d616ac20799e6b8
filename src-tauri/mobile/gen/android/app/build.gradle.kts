import java.util.Properties

plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
    id("rust")
}

// Version code and name from tauri.conf.json, written by tauri-cli at build time.
val tauriProperties = Properties().apply {
    val file = file("tauri.properties")
    if (file.exists()) file.inputStream().use { load(it) }
}

android {
    compileSdk = 34
    // The Kotlin package of MainActivity; the Rust side's JNI names are derived from the same
    // identifier (tauri.conf.json "identifier": org.peerdrop.PeerDrop).
    namespace = "org.peerdrop.PeerDrop"
    defaultConfig {
        manifestPlaceholders["usesCleartextTraffic"] = "false"
        applicationId = "org.peerdrop.PeerDrop"
        minSdk = 24
        targetSdk = 34
        versionCode = tauriProperties.getProperty("tauri.android.versionCode", "1").toInt()
        versionName = tauriProperties.getProperty("tauri.android.versionName", "0.1.0")
    }
    buildTypes {
        getByName("debug") {
            // ws:// to a signaling server on the local network during development.
            manifestPlaceholders["usesCleartextTraffic"] = "true"
            isDebuggable = true
            isJniDebuggable = true
            isMinifyEnabled = false
            packaging {
                jniLibs.keepDebugSymbols.add("*/arm64-v8a/*.so")
                jniLibs.keepDebugSymbols.add("*/armeabi-v7a/*.so")
                jniLibs.keepDebugSymbols.add("*/x86/*.so")
                jniLibs.keepDebugSymbols.add("*/x86_64/*.so")
            }
        }
        getByName("release") {
            isMinifyEnabled = true
            proguardFiles(
                *fileTree(".") { include("**/*.pro") }
                    .plus(getDefaultProguardFile("proguard-android-optimize.txt"))
                    .toList().toTypedArray()
            )
        }
    }
    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_1_8
        targetCompatibility = JavaVersion.VERSION_1_8
    }
    kotlinOptions {
        jvmTarget = "1.8"
    }
    buildFeatures {
        buildConfig = true
    }
}

rust {
    // From app/ to src-tauri/mobile (the crate and tauri-cli's app folder).
    rootDirRel = "../../../"
}

dependencies {
    implementation("androidx.webkit:webkit:1.11.0")
    implementation("androidx.appcompat:appcompat:1.7.0")
    implementation("androidx.activity:activity-ktx:1.9.1")
    implementation("com.google.android.material:material:1.12.0")
}

// Adds the Tauri Android library and the plugins' Android parts (written by tauri-build).
apply(from = "tauri.build.gradle.kts")
