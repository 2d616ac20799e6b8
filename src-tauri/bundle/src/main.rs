//! `peerdrop-app-bundle` — PeerDrop's `.deb`, made by Tauri's bundler used as a library.
//!
//! Why not `cargo tauri build`: tauri-cli takes about 23 minutes to install on the project's CI
//! machines and does not accept a `tauri.conf.json` at the workspace root with the app crate in
//! `src-tauri/`. This binary reads the same config and hands the same settings to the same
//! bundler (`tauri-bundler`, what tauri-cli calls), for an app binary that is already built.
//!
//! Usage (from anywhere in the repository):
//! `peerdrop-app-bundle [--profile debug|release] [--target-dir DIR] [--out-dir DIR] [--root DIR]`
//! → prints the `.deb` path. The app binary must exist (`scripts/app-build.sh [--release]`) in
//! `--out-dir` (default: the target folder's profile folder; `scripts/deb-check.sh` passes a
//! folder holding a stripped copy, as Debian packages ship). Nothing is
//! downloaded. The repository is found from `--root` or the current folder upwards (the folder
//! with `tauri.conf.json`), so the tool can be installed once (`cargo install --path
//! src-tauri/bundle`, as `scripts/deb-check.sh` does) and reused: its ≈ 200 dependencies
//! (image codecs, rpm signing, zip) are then compiled once per machine, not once per CI run.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use tauri_bundler::{
    AppCategory, BundleBinary, BundleSettings, DebianSettings, PackageSettings, PackageType,
    SettingsBuilder,
};
use tauri_utils::config::{Config, DeepLinkProtocol};

/// Libraries the app links dynamically (what tauri-cli adds for a WebKitGTK app).
const DEB_DEPENDS: &[&str] = &["libwebkit2gtk-4.1-0", "libgtk-3-0"];

fn main() -> Result<()> {
    let mut profile = "debug".to_string();
    let mut target_dir: Option<PathBuf> = None;
    let mut root: Option<PathBuf> = None;
    let mut out_dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--profile" => profile = args.next().context("--profile needs a value")?,
            "--release" => profile = "release".into(),
            "--target-dir" => target_dir = Some(args.next().context("--target-dir needs a value")?.into()),
            "--root" => root = Some(args.next().context("--root needs a value")?.into()),
            "--out-dir" => out_dir = Some(args.next().context("--out-dir needs a value")?.into()),
            other => bail!("unknown argument {other:?} (usage: peerdrop-app-bundle [--profile debug|release] [--target-dir DIR] [--out-dir DIR] [--root DIR])"),
        }
    }
    // Paths in tauri.conf.json are relative to the file, which is at the repository root.
    let root = match root {
        Some(root) => root.canonicalize()?,
        None => find_root(&std::env::current_dir()?)?,
    };
    std::env::set_current_dir(&root)?;
    let target_dir = target_dir
        .or_else(|| std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from))
        .unwrap_or_else(|| root.join("target"));
    let out_dir = out_dir.unwrap_or_else(|| target_dir.join(&profile));

    let text = std::fs::read_to_string("tauri.conf.json").context("read tauri.conf.json")?;
    let config: Config = serde_json::from_str(&text).context("parse tauri.conf.json")?;
    let debs = bundle(&config, &out_dir)?;
    for deb in debs {
        println!("{}", deb.display());
    }
    Ok(())
}

/// The nearest folder at or above `start` holding `tauri.conf.json`.
fn find_root(start: &Path) -> Result<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join("tauri.conf.json").is_file())
        .map(Path::to_path_buf)
        .context("no tauri.conf.json here or above: run inside the repository or pass --root")
}

/// Bundles the already built main binary in `out_dir` as a `.deb`; returns the package paths.
fn bundle(config: &Config, out_dir: &Path) -> Result<Vec<PathBuf>> {
    let binary = config
        .main_binary_name
        .clone()
        .context("tauri.conf.json needs mainBinaryName")?;
    if !out_dir.join(&binary).exists() {
        bail!(
            "{} is not built (scripts/app-build.sh builds it)",
            out_dir.join(&binary).display()
        );
    }
    let bundle = &config.bundle;
    let deb = &bundle.linux.deb;
    let mut depends: Vec<String> = DEB_DEPENDS.iter().map(|d| d.to_string()).collect();
    depends.extend(deb.depends.clone().unwrap_or_default());
    let product_name = config.product_name.clone().context("productName")?;
    let settings = SettingsBuilder::new()
        .project_out_directory(out_dir)
        .package_types(vec![PackageType::Deb])
        .binary_patching(false)
        .package_settings(PackageSettings {
            product_name,
            version: config.version.clone().context("version")?,
            description: bundle.short_description.clone().unwrap_or_default(),
            homepage: bundle.homepage.clone(),
            authors: None,
            default_run: Some(binary.clone()),
        })
        .bundle_settings(BundleSettings {
            identifier: Some(config.identifier.clone()),
            publisher: bundle.publisher.clone(),
            icon: Some(bundle.icon.clone()),
            category: bundle
                .category
                .as_deref()
                .map(|c| {
                    c.parse::<AppCategory>()
                        .map_err(|suggestion| match suggestion {
                            Some(close) => anyhow::anyhow!(
                                "unknown bundle category {c:?} (did you mean {close:?}?)"
                            ),
                            None => anyhow::anyhow!("unknown bundle category {c:?}"),
                        })
                })
                .transpose()?,
            file_associations: bundle.file_associations.clone(),
            short_description: bundle.short_description.clone(),
            long_description: bundle.long_description.clone(),
            deep_link_protocols: deep_link_protocols(config),
            deb: DebianSettings {
                depends: Some(depends),
                recommends: deb.recommends.clone(),
                files: deb.files.clone(),
                desktop_template: deb.desktop_template.clone(),
                section: deb.section.clone(),
                priority: deb.priority.clone(),
                ..Default::default()
            },
            ..Default::default()
        })
        .binaries(vec![BundleBinary::new(binary, true)])
        .build()
        .context("bundle settings")?;
    let bundles = tauri_bundler::bundle_project(&settings).context("bundling the .deb")?;
    Ok(bundles.into_iter().flat_map(|b| b.bundle_paths).collect())
}

/// `plugins > deep-link > desktop > schemes` (where tauri-cli reads them too): the `.desktop`
/// entry and the Windows installer register these URL schemes.
fn deep_link_protocols(config: &Config) -> Option<Vec<DeepLinkProtocol>> {
    let desktop = config.plugins.0.get("deep-link")?.get("desktop")?;
    let parsed: DeepLinkProtocol = serde_json::from_value(desktop.clone()).ok()?;
    Some(vec![parsed])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_config_names_the_link_scheme() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tauri.conf.json");
        let config: Config = serde_json::from_str(&std::fs::read_to_string(root).unwrap()).unwrap();
        let protocols = deep_link_protocols(&config).expect("deep-link schemes");
        assert_eq!(protocols[0].schemes, vec!["peerdrop".to_string()]);
        assert_eq!(
            config.bundle.linux.deb.files.len(),
            1,
            "the link handler entry"
        );
        assert!(config.bundle.linux.deb.desktop_template.is_some());
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            find_root(here).unwrap(),
            here.join("../..").canonicalize().unwrap()
        );
    }
}
