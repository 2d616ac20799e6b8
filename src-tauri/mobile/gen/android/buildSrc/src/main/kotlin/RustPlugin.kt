// Builds the Rust library (libpeerdrop_app_mobile.so) for each Android ABI before Gradle
// packages the app, by asking tauri-cli, which knows the NDK toolchains and copies the library
// into app/src/main/jniLibs. Used when building from Android Studio or plain Gradle;
// `cargo tauri android build` builds the library itself first.
import com.android.build.api.dsl.ApplicationExtension
import org.gradle.api.DefaultTask
import org.gradle.api.Plugin
import org.gradle.api.Project
import org.gradle.api.tasks.Input
import org.gradle.api.tasks.TaskAction
import org.gradle.kotlin.dsl.configure
import java.io.File

/** Where the Rust crate is, relative to the app module (`rust { rootDirRel = ... }`). */
open class RustExtension {
    var rootDirRel: String? = null
}

/** Rust target triple and tauri-cli's short name for each Android ABI PeerDrop ships. */
private val abis = mapOf(
    "arm64-v8a" to "aarch64",
    "armeabi-v7a" to "armv7",
    "x86" to "i686",
    "x86_64" to "x86_64",
)

open class RustBuildTask : DefaultTask() {
    @Input var rootDirRel: String = ""
    @Input var target: String = ""
    @Input var release: Boolean = false

    @TaskAction
    fun build() {
        val args = mutableListOf("cargo", "tauri", "android", "android-studio-script", "--target", target)
        if (release) args.add("--release")
        val process = ProcessBuilder(args)
            .directory(File(project.projectDir, rootDirRel))
            .inheritIO()
            .start()
        if (process.waitFor() != 0) throw RuntimeException("${args.joinToString(" ")} failed")
    }
}

class RustPlugin : Plugin<Project> {
    override fun apply(project: Project) = with(project) {
        val config = extensions.create("rust", RustExtension::class.java)
        extensions.configure<ApplicationExtension> {
            flavorDimensions.add("abi")
            productFlavors {
                create("universal") {
                    dimension = "abi"
                    ndk { abiFilters += abis.keys }
                }
                abis.forEach { (abi, _) ->
                    create(abi.replace("-", "")) {
                        dimension = "abi"
                        ndk { abiFilters += abi }
                    }
                }
            }
        }
        afterEvaluate {
            val rootDirRel = config.rootDirRel ?: throw RuntimeException("rust { rootDirRel = ... } is not set")
            for (profile in listOf("debug", "release")) {
                val profileName = profile.replaceFirstChar { it.uppercase() }
                val all = tasks.register("rustBuildUniversal$profileName")
                abis.forEach { (abi, target) ->
                    val flavor = abi.replace("-", "")
                    val task = tasks.register("rustBuild${flavor.replaceFirstChar { it.uppercase() }}$profileName", RustBuildTask::class.java) {
                        this.rootDirRel = rootDirRel
                        this.target = target
                        this.release = profile == "release"
                    }
                    all.configure { dependsOn(task) }
                    tasks.matching { it.name == "merge${flavor.replaceFirstChar { c -> c.uppercase() }}${profileName}JniLibFolders" }
                        .configureEach { dependsOn(task) }
                }
                tasks.matching { it.name == "mergeUniversal${profileName}JniLibFolders" }
                    .configureEach { dependsOn(all) }
            }
        }
    }
}
